"""Old-style torch code the table converts: the legacy typed constructors (torch.FloatTensor &
co.), torch.empty, torch.autograd.Variable and nn.ModuleDict, run against torch."""

from __future__ import annotations

import importlib
import textwrap

import mindspore
import numpy as np
import pytest
import torch

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()
LEGACY = sorted(key for key in SPEC.rules if key.endswith("Tensor") and SPEC.rules[key].target == "_torch_compat.legacy_tensor")


def _torch_class(key: str):
    obj = torch
    for part in key.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _ms_dtype(key: str):
    expr = SPEC.rules[key].defaults["dtype"]
    return getattr(mindspore, expr.rpartition(".")[2])


def test_every_legacy_constructor_is_in_the_table():
    names = ("Float", "Double", "Half", "Long", "Int", "Short", "Char", "Byte", "Bool")
    assert {f"torch.{n}Tensor" for n in names} <= set(LEGACY)


@pytest.mark.parametrize("key", [k for k in LEGACY if not k.startswith("torch.cuda.")])
def test_legacy_constructor_matches_torch(compat, key):
    cls, dtype = _torch_class(key), _ms_dtype(key)
    data = [[1, 0, 3], [0, 5, 1]]
    for args in ((data,), (np.array(data),), (2, 3), (4,), ()):
        if key == "torch.HalfTensor" and args and isinstance(args[0], np.ndarray):
            continue  # torch refuses an int64 array here; the helper casts it
        want = cls(*args)
        got = compat.legacy_tensor(*args, dtype=dtype)
        assert tuple(got.shape) == tuple(want.shape), args
        assert str(want.dtype).replace("torch.", "") in str(got.dtype).lower().replace("bool_", "bool")
        if args and not isinstance(args[0], int):  # data, not uninitialised memory
            np.testing.assert_array_equal(got.asnumpy(), want.numpy())
    assert compat.legacy_tensor(mindspore.Tensor(np.array([1.5, 2.5])), dtype=dtype).dtype == dtype


def test_legacy_constructors_convert_through_the_table():
    out = convert_source(textwrap.dedent("""
        import torch
        a = torch.LongTensor([1, 2])
        b = torch.cuda.FloatTensor(2, 3)
        c = torch.empty(2, 3, dtype=torch.float64)
    """), SPEC, "x.py")
    assert "legacy_tensor([1, 2], dtype=mindspore.int64)" in out.code
    assert "legacy_tensor(2, 3, dtype=mindspore.float32)" in out.code
    assert "ops.zeros((2, 3), dtype=mindspore.float64)" in out.code
    assert {s.kind for s in out.sites} == {"converted"}


def test_legacy_names_used_as_types_become_mindspore_tensor_and_dtype_checks_stay_uncertain():
    """Called, torch.Tensor and the typed constructors build tensors (legacy_tensor); as types
    (annotations, isinstance, a base class) they are mindspore.Tensor, except an isinstance
    check of a typed one, which also checks the dtype in torch: uncertain, left as it is."""
    out = convert_source(textwrap.dedent("""
        import numpy as np
        import torch
        def f(x: torch.FloatTensor, y: torch.Tensor) -> torch.LongTensor:
            a = isinstance(y, torch.Tensor)
            b = isinstance(x, (torch.FloatTensor, torch.DoubleTensor))
            return torch.Tensor(np.arange(3)).long(), torch.Tensor(2, 3)
        class Tagged(torch.Tensor):
            pass
        exact = type(y) is torch.Tensor
        cast = y.type(torch.LongTensor)
    """), SPEC, "x.py")
    assert "def f(x: mindspore.Tensor, y: mindspore.Tensor) -> mindspore.Tensor:" in out.code
    assert "a = isinstance(y, mindspore.Tensor)" in out.code
    assert "b = isinstance(x, (torch.FloatTensor, torch.DoubleTensor))" in out.code
    assert "legacy_tensor(np.arange(3), dtype=mindspore.float32).long(), legacy_tensor(2, 3, dtype=mindspore.float32)" in out.code
    assert "class Tagged(mindspore.Tensor):" in out.code
    assert "exact = type(y) is mindspore.Tensor" in out.code
    assert "torch.LongTensor)" in out.code  # y.type(torch.LongTensor) casts: left for a person
    uncertain = [(s.rule, s.reason) for s in out.sites if s.kind == "uncertain"]
    assert [r for r, _ in uncertain if r.endswith("Tensor")] == ["torch.FloatTensor", "torch.DoubleTensor",
                                                                 "torch.LongTensor"]
    assert "float32" in uncertain[0][1] and "float64" in uncertain[1][1]
    assert not [s for s in out.sites if s.kind == "unsupported"]


def test_variable_goes_and_module_dict_keeps_names_and_values(compat, tmp_path, monkeypatch):
    src = textwrap.dedent("""
        import torch
        import torch.nn as nn
        from torch.autograd import Variable

        class Heads(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(2, 1)})

            def forward(self, x):
                x = Variable(x)
                return self.heads["b"](self.heads["a"](x))
    """)
    out = convert_source(src, SPEC, "heads.py")
    assert "Variable" not in out.code and "ModuleDict(" in out.code and "nn.ModuleDict" not in out.code
    assert {s.kind for s in out.sites} == {"converted", "graph"}  # construct compiled with jit
    t_ns = {}
    exec(compile(src, "heads_torch.py", "exec"), t_ns)
    (tmp_path / "legacy_heads_ms.py").write_text(out.code)  # mindspore.jit reads the source file
    monkeypatch.syspath_prepend(str(tmp_path))
    m_mod = importlib.import_module("legacy_heads_ms")
    t_model, m_model = t_ns["Heads"](), m_mod.Heads()
    t_params = dict(t_model.named_parameters())
    m_params = {p.name: p for p in m_model.trainable_params()}
    assert set(t_params) == set(m_params)
    for name, p in t_params.items():
        m_params[name].set_data(mindspore.Tensor(p.detach().numpy()))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    want = t_model(torch.from_numpy(x)).detach().numpy()
    got = m_model(mindspore.Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
