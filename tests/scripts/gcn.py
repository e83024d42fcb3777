"""pyGCN: Parameters initialised through .data.uniform_, a dense adjacency turned sparse with
to_sparse(), torch.spmm, per-layer weight decay through parameter groups, train/eval passes."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class GraphConvolution(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = nn.Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / np.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, x, adj):
        output = torch.spmm(adj, torch.mm(x, self.weight))
        return output + self.bias if self.bias is not None else output


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout):
        super().__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.dropout(F.relu(self.gc1(x, adj)), self.dropout, training=self.training)
        return F.log_softmax(self.gc2(x, adj), dim=1)


def accuracy(output, labels):
    correct = output.max(1)[1].type_as(labels).eq(labels).double()
    return correct.sum() / len(labels)


def build():
    return GCN(5, 8, 3, dropout=0.0)


def data(rng):
    A = (rng.random((10, 10)) < 0.3).astype(np.float32)
    A = A + A.T + np.eye(10, dtype=np.float32)
    labels = rng.integers(0, 3, 10)
    return {"X": rng.standard_normal((10, 5)).astype(np.float32), "A": A / A.sum(1, keepdims=True), "labels": labels}


def run(model, d, workdir, epochs=5):
    features, labels = torch.from_numpy(d["X"]), torch.from_numpy(d["labels"])
    adj = torch.from_numpy(d["A"]).to_sparse()
    idx_train, idx_val = torch.arange(6), torch.arange(6, 10)
    optimizer = torch.optim.Adam([{"params": model.gc1.parameters(), "weight_decay": 5e-4},
                                  {"params": model.gc2.parameters(), "weight_decay": 0}], lr=0.01)
    log = []
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        model.eval()
        output = model(features, adj)
        log += [loss_train.item(), acc_train.item(), F.nll_loss(output[idx_val], labels[idx_val]).item()]
    return log
