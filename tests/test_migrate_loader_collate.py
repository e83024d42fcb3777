"""The converted DataLoader with a custom collate_fn: the project's own collate function is
converted too and called with each batch's samples, as torch calls it."""

from __future__ import annotations

import importlib
import textwrap

import numpy as np
import pytest

from migrate import runner

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

DATA = """
import numpy as np
import torch
from torch.utils.data import Dataset, DataLoader


class Pairs(Dataset):
    def __init__(self, n):
        self.x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": torch.tensor(self.x[i]), "y": torch.tensor(i)}


def collate(batch):
    return {k: torch.stack([b[k] for b in batch]) * 2 for k in batch[0]}


def loader(n, batch_size):
    return DataLoader(Pairs(n), batch_size=batch_size, collate_fn=collate, num_workers=0)
"""


@pytest.mark.parametrize("batch_size", [1, 4])
def test_custom_collate_fn_is_called_with_the_batch(tmp_path, monkeypatch, batch_size):
    src = tmp_path / "src"
    src.mkdir()
    name = f"collate_data_{batch_size}"  # a module name per case: imports are cached
    (src / f"{name}.py").write_text(textwrap.dedent(DATA))
    result = runner.run(src, tmp_path / "out")
    sites = [(s.rule, s.kind) for f in result.files for s in f.sites]
    assert ("torch.utils.data.DataLoader", "converted") in sites, sites
    monkeypatch.syspath_prepend(str(tmp_path / "out"))
    converted = importlib.import_module(name)
    namespace: dict = {}
    exec(compile(textwrap.dedent(DATA), "<torch>", "exec"), namespace)
    want = list(namespace["loader"](7, batch_size))
    got = list(converted.loader(7, batch_size))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)
        for key in w:
            np.testing.assert_array_equal(g[key].asnumpy(), w[key].numpy())


def test_dataloader_options_passed_as_a_mapping_are_checked_at_run_time(compat):
    """``DataLoader(ds, **train_kwargs)`` (pytorch/examples' layout) converts: the helper applies
    the table's drops and refusals to the mapping's names when it runs, as torch checks them."""
    from migrate.codemod import convert_source
    from migrate.spec import load_spec

    spec = load_spec()
    rule = spec.get("torch.utils.data.DataLoader")
    assert compat._LOADER_IGNORED == set(rule.drop)  # the same names dropped either way
    assert set(compat._LOADER_REFUSED) == {c.name for c in rule.unsupported_args}
    out = convert_source("import torch\nkw = {'batch_size': 2}\nloader = torch.utils.data.DataLoader(ds, **kw)\n",
                         spec, "m.py")
    assert "data_loader(ds, **kw)" in out.code and [s.kind for s in out.sites] == ["converted"], out.code
    data = list(range(5))
    options = {"batch_size": 2, "num_workers": 3, "pin_memory": True, "sampler": None, "drop_last": True}
    batches = [b.asnumpy().tolist() for b in compat.data_loader(data, **options)]
    assert batches == [[0, 1], [2, 3]]
    with pytest.raises(NotImplementedError, match="worker_init_fn"):
        compat.data_loader(data, worker_init_fn=print)
    with pytest.raises(TypeError, match="unexpected keyword argument 'batchsize'"):
        compat.data_loader(data, batchsize=2)


def test_samplers_and_batch_samplers_give_torchs_batches(compat):
    """sampler= (an order of indices) and batch_sampler= (batches of indices: a few-shot episode
    sampler, BatchSampler) as torch's DataLoader takes them, with its rules and len()."""
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata

    samples = [(np.float32(i), i * 10) for i in range(7)]

    class Episodes:  # what a few-shot code's batch sampler is: index lists, a length
        def __iter__(self):
            return iter([[6, 0, 3], [1, 1], [5]])

        def __len__(self):
            return 3

    def both(ms_sampler=None, t_sampler=None, **kwargs):
        """The batches and len() of torch's DataLoader and the helper's, with these options."""
        t_loader = tdata.DataLoader(samples, **kwargs, **({"sampler": t_sampler} if t_sampler is not None else {}))
        loader = compat.data_loader(samples, **kwargs, **({"sampler": ms_sampler} if ms_sampler is not None else {}))
        want = [[x.numpy().tolist() for x in batch] for batch in t_loader]
        got = [[x.asnumpy().tolist() for x in batch] for batch in loader]
        assert got == want and len(loader) == len(t_loader)

    both(batch_sampler=Episodes())
    both([4, 2, 2, 0], [4, 2, 2, 0], batch_size=3)
    both([4, 2, 2, 0], [4, 2, 2, 0], batch_size=3, drop_last=True)
    both(compat.SequentialSampler(samples), tdata.SequentialSampler(samples), batch_size=2)
    want = list(tdata.BatchSampler(tdata.SequentialSampler(samples), 3, True))
    assert list(compat.BatchSampler(compat.SequentialSampler(samples), 3, True)) == want
    assert len(compat.BatchSampler(compat.SequentialSampler(samples), 3, False)) == 3
    np.random.seed(0)
    drawn = list(compat.SubsetRandomSampler([2, 4, 6]))
    assert sorted(drawn) == [2, 4, 6] and sorted(compat.RandomSampler(samples)) == list(range(7))
    with pytest.raises(ValueError, match="mutually exclusive"):
        compat.data_loader(samples, batch_sampler=Episodes(), batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        compat.data_loader(samples, sampler=[0], shuffle=True)


def test_subset_concat_and_random_split_index_as_torchs(compat):
    """Subset, ConcatDataset and random_split (helpers: MindSpore has none of them) give torch's
    items, lengths and cumulative sizes; random_split's parts have torch's sizes (fractions too)
    and cover the dataset once (the members differ: numpy's permutation, not torch's stream)."""
    from torch.utils import data as tdata

    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    t_base = tdata.TensorDataset(torch.from_numpy(rows))
    m_base = compat.TensorDataset(mindspore.Tensor(rows))
    t_cat = tdata.ConcatDataset([tdata.Subset(t_base, [7, 1, 4]), tdata.Subset(t_base, range(5, 9))])
    m_cat = compat.ConcatDataset([compat.Subset(m_base, [7, 1, 4]), compat.Subset(m_base, range(5, 9))])
    assert len(m_cat) == len(t_cat) == 7 and m_cat.cumulative_sizes == t_cat.cumulative_sizes
    for i in list(range(7)) + [-1, -7]:
        np.testing.assert_array_equal(m_cat[i][0].asnumpy(), t_cat[i][0].numpy())
    with pytest.raises(IndexError):
        m_cat[7]
    for lengths in ([8, 2], [0.8, 0.2], [0.33, 0.33, 0.34], [0.5, 0.25, 0.25]):
        m_parts = compat.random_split(m_base, lengths)
        t_parts = tdata.random_split(t_base, lengths)
        assert [len(p) for p in m_parts] == [len(p) for p in t_parts], lengths
        assert sorted(i for p in m_parts for i in p.indices) == list(range(10))
    with pytest.raises(ValueError):
        compat.random_split(m_base, [3, 3])
