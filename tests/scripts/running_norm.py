"""A normaliser written by hand with buffers updated in place in ``forward`` while training
(``self.running_mean.mul_(m).add_((1 - m) * mean)``, an integer step counter ``+= 1``), read in
eval mode; a loss guard that skips a step (``if torch.isnan(loss) or loss.item() > 1e3:
continue``) before ``zero_grad``/``backward``/``step``."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RunningNorm(nn.Module):
    def __init__(self, dim, momentum=0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var)
                self.steps += 1
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + 1e-5)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = RunningNorm(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.norm(x))


def build():
    return Net()


def data(rng):
    x = rng.normal(size=(30, 4)).astype(np.float32) * 3 + 1
    x[12:15] *= 5.0
    return {"x": x, "y": rng.integers(0, 2, 30)}


def run(model, d, workdir):
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    log, skipped = [], 0
    model.train()
    for start in range(0, 30, 6):
        loss = F.cross_entropy(model(x[start:start + 6]), y[start:start + 6])
        if torch.isnan(loss) or loss.item() > 0.72:  # a bad batch: skipped (its forward updated the buffers)
            skipped += 1
            continue
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    model.eval()
    with torch.no_grad():
        clean = torch.cat([x[:12], x[18:]])
        log += [skipped, int(model.norm.steps), float(model(clean).sum())]
    return log
