"""``getattr(nn, name)``: a torch module's member chosen by a name known at run time becomes the
helper ``torch_getattr``, which finds the table's entry where the converted code runs."""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pytest

from migrate import runner
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()

SOURCE = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self, act, norm, momentum):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.norm = getattr(nn, norm)(4, momentum=momentum)
        self.act = getattr(nn, act)()
        self.out = getattr(F, "softmax")

    def forward(self, x):
        return self.out(self.act(self.norm(self.fc(x))), dim=-1)


def make_optimizer(model, name, lr):
    return getattr(torch.optim, name)(model.parameters(), lr=lr)


def lookup(name):
    return getattr(nn, name)


def lookup_or_none(name):
    return getattr(nn, name, None)


def shadowed(obj, name):
    getattr = lambda o, n: (o, n)
    return getattr(obj, name)
'''


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("getattr")
    (root / "src").mkdir()
    (root / "src" / "heads.py").write_text(SOURCE)
    result = runner.run(root / "src", root / "out", spec=SPEC)
    sys.path.insert(0, str(root / "out"))
    for name in ("heads", "_torch_compat"):
        sys.modules.pop(name, None)
    try:
        yield result, importlib.import_module("heads"), importlib.import_module("_torch_compat"), root / "out"
    finally:
        sys.path.remove(str(root / "out"))
        for name in ("heads", "_torch_compat"):
            sys.modules.pop(name, None)


def test_the_lookups_are_converted_and_the_table_is_written_into_the_helper(converted):
    result, _, _, out = converted
    code = (out / "heads.py").read_text()
    assert 'torch_getattr("torch.nn", norm)(4, momentum=momentum)' in code
    assert 'torch_getattr("torch.optim", name)' in code
    assert "getattr = lambda o, n: (o, n)\n    return getattr(obj, name)" in code  # a rebound getattr is left alone
    sites = [s for r in result.files for s in r.sites if s.kind in ("uncertain", "unsupported")]
    assert sites == []
    assert "_TORCH_NAMES.update({" in (out / "_torch_compat.py").read_text()


def test_a_layer_chosen_by_name_computes_what_torch_computes(converted):
    """getattr(nn, "BatchNorm1d")(4, momentum=0.3) gets MindSpore's momentum 0.7, getattr(nn,
    "LeakyReLU")() torch's slope 0.01: the entries' mappings apply where the classes are called."""
    _, heads, _, _ = converted
    torch.manual_seed(0)
    t = heads_torch().Head("LeakyReLU", "BatchNorm1d", 0.3)
    m = heads.Head("LeakyReLU", "BatchNorm1d", 0.3)
    assert m.act.negative_slope == pytest.approx(0.01)  # the momentum shows in the moving statistics below
    m.fc.weight.set_data(mindspore.Tensor(t.fc.weight.detach().numpy()))
    m.fc.bias.set_data(mindspore.Tensor(t.fc.bias.detach().numpy()))
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    t.train()
    m.set_train(True)
    want = t(torch.from_numpy(x)).detach().numpy()
    got = m(mindspore.Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.norm.moving_mean.asnumpy(), t.norm.running_mean.numpy(), rtol=1e-4, atol=1e-6)


def heads_torch():
    namespace = {}
    exec(compile(SOURCE, "heads_torch.py", "exec"), namespace)
    return type("heads_torch", (), namespace)


def test_an_optimizer_chosen_by_name_is_the_helper_optimizer(converted):
    _, heads, compat, _ = converted
    model = heads.Head("ReLU", "BatchNorm1d", 0.1)
    assert isinstance(heads.make_optimizer(model, "Adam", 0.01), compat.Adam)
    assert isinstance(heads.make_optimizer(model, "SGD", 0.01), compat.SGD)


def test_names_the_table_cannot_give_or_lacks(converted):
    _, heads, compat, _ = converted
    with pytest.raises(AttributeError, match="torch.nn.NoSuchLayer is not in the migration table"):
        heads.lookup("NoSuchLayer")
    with pytest.warns(RuntimeWarning, match="api_map.yaml has no torch.nn.NoSuchLayer"):
        assert heads.lookup_or_none("NoSuchLayer") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert heads.lookup_or_none("Linear") is not None
    refused = next(k for k, r in SPEC.rules.items() if k.startswith("torch.nn.") and r.owner is None and r.target is None)
    with pytest.raises(NotImplementedError, match=refused.replace(".", r"\.")):
        compat.torch_getattr(*refused.rsplit(".", 1))


def test_every_entry_of_the_written_table_resolves(converted):
    """Each torch name of the table gives its value (MindSpore names exist, adapters build) or the
    NotImplementedError of an entry that cannot be a value -- nothing else."""
    _, _, compat, _ = converted
    assert len(compat._TORCH_NAMES) > 300
    failures = []
    for key in compat._TORCH_NAMES:
        try:
            value = compat.torch_getattr(*key.rsplit(".", 1))
        except NotImplementedError:
            continue
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            failures.append(f"{key}: {type(exc).__name__}: {exc}")
            continue
        if value is None:
            failures.append(f"{key}: None")
    assert not failures, "\n".join(failures)
