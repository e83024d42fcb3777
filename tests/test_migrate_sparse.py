"""Sparse COO tensors (torch.sparse_coo_tensor, the legacy torch.sparse.FloatTensor, torch.sparse.mm)
converted with the real table and run against torch: LightGCN's propagation and edge dropout,
and the helper's SparseTensor beside torch's."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
from test_migrate_numeric import both_versions  # noqa: E402  (needs torch and mindspore)

SPEC = load_spec()
pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)

LIGHTGCN = textwrap.dedent('''\
    import numpy as np
    import torch
    import torch.nn as nn


    def graph(n_users, n_items, pairs):
        """The normalised bipartite adjacency, built as LightGCN's dataloader builds it."""
        n = n_users + n_items
        rows = np.concatenate([pairs[:, 0], pairs[:, 1] + n_users])
        cols = np.concatenate([pairs[:, 1] + n_users, pairs[:, 0]])
        degree = np.bincount(rows, minlength=n).astype(np.float32)
        data = 1.0 / np.sqrt(degree[rows] * degree[cols])
        index = torch.stack([torch.Tensor(rows).long(), torch.Tensor(cols).long()])
        g = torch.sparse.FloatTensor(index, torch.FloatTensor(data), torch.Size([n, n]))
        return g.coalesce()


    class LightGCN(nn.Module):
        def __init__(self, n_users, n_items, graph, dim=4, layers=2):
            super().__init__()
            self.n_users, self.n_items, self.layers = n_users, n_items, layers
            self.embedding_user = nn.Embedding(n_users, dim)
            self.embedding_item = nn.Embedding(n_items, dim)
            self.Graph = graph

        def dropout_x(self, x, keep):
            size = x.size()
            index = x.indices().t()
            values = x.values()
            random_index = torch.rand(len(values)) + keep
            random_index = random_index.int().bool()
            index = index[random_index]
            values = values[random_index] / keep
            return torch.sparse.FloatTensor(index.t(), values, size)

        def computer(self, g):
            all_emb = torch.cat([self.embedding_user.weight, self.embedding_item.weight])
            embs = [all_emb]
            for _ in range(self.layers):
                all_emb = torch.sparse.mm(g, all_emb)
                embs.append(all_emb)
            light_out = torch.mean(torch.stack(embs, dim=1), dim=1)
            return torch.split(light_out, [self.n_users, self.n_items])

        def forward(self, users, items):
            user_emb, item_emb = self.computer(self.Graph)
            return (user_emb[users] * item_emb[items]).sum(dim=1)
''')


def _pairs():
    rng = np.random.default_rng(0)
    return np.unique(np.stack([rng.integers(0, 5, 14), rng.integers(0, 7, 14)], axis=1), axis=0)


def test_lightgcn_propagation_converts_and_matches_torch(tmp_path, monkeypatch):
    code, ms_mod, t_mod = both_versions(LIGHTGCN, "lightgcn_case", tmp_path, monkeypatch)
    assert "sparse_FloatTensor(" in code and "sparse_mm(g, all_emb)" in code
    assert "@jit_construct" not in code  # a construct multiplying the helper's sparse tensor stays in PyNative
    pairs = _pairs()
    t_graph, ms_graph = t_mod["graph"](5, 7, pairs), ms_mod.graph(5, 7, pairs)
    assert ms_graph.is_coalesced() and ms_graph.size() == tuple(t_graph.size()) == (12, 12)
    np.testing.assert_array_equal(ms_graph.indices().asnumpy(), t_graph.indices().numpy())
    np.testing.assert_allclose(ms_graph.values().asnumpy(), t_graph.values().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ms_graph.to_dense().asnumpy(), t_graph.to_dense().numpy(), rtol=1e-6)
    t_net, ms_net = t_mod["LightGCN"](5, 7, t_graph), ms_mod.LightGCN(5, 7, ms_graph)
    ms_params = ms_net.parameters_dict()
    ms_params["embedding_user.embedding_table"].set_data(mindspore.Tensor(t_net.embedding_user.weight.detach().numpy()))
    ms_params["embedding_item.embedding_table"].set_data(mindspore.Tensor(t_net.embedding_item.weight.detach().numpy()))
    users, items = np.array([0, 3, 4, 1]), np.array([6, 0, 2, 2])
    want = t_net(torch.tensor(users), torch.tensor(items))
    want.square().sum().backward()
    got = ms_net(mindspore.Tensor(users), mindspore.Tensor(items))
    np.testing.assert_allclose(got.asnumpy(), want.detach().numpy(), atol=1e-6)

    def loss(u, i):
        return ms_net(u, i).square().sum()

    _, grads = mindspore.value_and_grad(loss, None, ms_net.trainable_params())(
        mindspore.Tensor(users), mindspore.Tensor(items))
    for grad, t_param in zip(grads, (t_net.embedding_user.weight, t_net.embedding_item.weight)):
        np.testing.assert_allclose(grad.asnumpy(), t_param.grad.numpy(), atol=1e-6)
    # edge dropout: keep=1 keeps every edge (torch.rand < 1), the product is unchanged
    kept = ms_net.dropout_x(ms_graph, 1.0)
    np.testing.assert_allclose(kept.to_dense().asnumpy(), t_graph.to_dense().numpy(), rtol=1e-6)


def test_the_helpers_sparse_tensor_behaves_as_torchs(compat):
    idx = np.array([[0, 2, 0, 1], [1, 0, 1, 2]])
    vals = np.array([1.0, 2.0, 3.0, -1.0], np.float32)
    t = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals), (3, 3))
    s = compat.sparse_coo_tensor(mindspore.Tensor(idx), mindspore.Tensor(vals), (3, 3))
    with pytest.raises(RuntimeError, match="uncoalesced"):
        t.indices()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    tc, sc = t.coalesce(), s.coalesce()
    assert sc._nnz() == tc._nnz() == 3
    np.testing.assert_array_equal(sc.indices().asnumpy(), tc.indices().numpy())
    np.testing.assert_array_equal(sc.values().asnumpy(), tc.values().numpy())
    for got, want in ((s.to_dense(), t.to_dense()), (s.t().to_dense(), t.t().to_dense()),
                      ((s * 2.0).to_dense(), (t * 2.0).to_dense())):
        np.testing.assert_array_equal(got.asnumpy(), want.numpy())
    dense = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose((s @ mindspore.Tensor(dense)).asnumpy(),
                               torch.sparse.mm(t, torch.tensor(dense)).numpy())
    inferred = compat.sparse_coo_tensor(mindspore.Tensor(idx), mindspore.Tensor(vals))
    assert inferred.size() == tuple(torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals)).size()) == (3, 3)
    assert s.to(mindspore.float64).dtype == mindspore.float64 and s.to("cuda") is s


def test_building_or_multiplying_a_sparse_tensor_keeps_a_construct_in_pynative():
    out = convert_source(LIGHTGCN, SPEC, "lightgcn.py")
    [pynative] = [s for s in out.sites if s.kind == "pynative"]
    assert "sparse" in pynative.reason and "graph mode does not take" in pynative.reason
    assert not re.search(r"(?<![\w.])torch\.", out.code)


def test_to_sparse_gives_torchs_coalesced_tensor_and_products(compat, tmp_path, monkeypatch):
    """``adj.to_sparse()`` (pyGCN's adjacency), typed or on a receiver of unknown type: torch's
    indices (row-major) and values, and the same sparse-dense product."""
    source = textwrap.dedent("""\
        import torch


        def typed(adj: torch.Tensor, x: torch.Tensor):
            s = adj.to_sparse()
            return s.indices(), s.values(), torch.spmm(s, x)


        def untyped(adj, x):
            s = adj.to_sparse()
            return s.indices(), s.values(), torch.spmm(s, x)
        """)
    code, ms_mod, t_mod = both_versions(source, "to_sparse_case", tmp_path, monkeypatch)
    assert "to_sparse(adj)" in code and 'untyped_method(adj, "to_sparse", to_sparse)' in code, code
    rng = np.random.default_rng(0)
    adj = (rng.random((5, 4)) < 0.4) * rng.standard_normal((5, 4)).astype(np.float32)
    adj = adj.astype(np.float32)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    want = t_mod["typed"](torch.from_numpy(adj), torch.from_numpy(x))
    for fn in (ms_mod.typed, ms_mod.untyped):
        got = fn(mindspore.Tensor(adj), mindspore.Tensor(x))
        np.testing.assert_array_equal(got[0].asnumpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].asnumpy(), want[1].numpy())
        np.testing.assert_allclose(got[2].asnumpy(), want[2].numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(NotImplementedError, match="hybrid"):
        compat.to_sparse(mindspore.Tensor(adj), 1)
