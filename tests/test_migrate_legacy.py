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


def test_legacy_names_used_as_types_become_mindspore_tensor_and_dtype_checks_the_helpers_types():
    """Called, torch.Tensor and the typed constructors build tensors (legacy_tensor); as types
    (annotations, a base class) they are mindspore.Tensor; as isinstance's class argument or a
    value, the typed ones are the helper's legacy types, which check the dtype as torch's do
    (``isinstance(x, torch.cuda.FloatTensor)`` also asks for a CUDA device: uncertain), and
    ``y.type(torch.LongTensor)`` casts (tensor_type)."""
    out = convert_source(textwrap.dedent("""
        import numpy as np
        import torch
        def f(x: torch.FloatTensor, y: torch.Tensor) -> torch.LongTensor:
            a = isinstance(y, torch.Tensor)
            b = isinstance(x, (torch.FloatTensor, torch.DoubleTensor))
            c = isinstance(x, torch.cuda.FloatTensor)
            return torch.Tensor(np.arange(3)).long(), torch.Tensor(2, 3)
        class Tagged(torch.Tensor):
            pass
        exact = type(y) is torch.Tensor
        cast = y.type(torch.LongTensor)
    """), SPEC, "x.py")
    assert "def f(x: mindspore.Tensor, y: mindspore.Tensor) -> mindspore.Tensor:" in out.code
    assert "a = isinstance(y, mindspore.Tensor)" in out.code
    assert "b = isinstance(x, (FloatTensor, DoubleTensor))" in out.code
    assert "c = isinstance(x, torch.cuda.FloatTensor)" in out.code
    assert "legacy_tensor(np.arange(3), dtype=mindspore.float32).long(), legacy_tensor(2, 3, dtype=mindspore.float32)" in out.code
    assert "class Tagged(mindspore.Tensor):" in out.code
    assert "exact = type(y) is mindspore.Tensor" in out.code
    assert "cast = type_of(y, LongTensor)" in out.code  # y's type is not known at module level
    uncertain = [(s.rule, s.reason) for s in out.sites if s.kind == "uncertain"]
    assert [r for r, _ in uncertain] == ["torch.cuda.FloatTensor"]
    assert "CUDA device" in uncertain[0][1]
    assert not [s for s in out.sites if s.kind == "unsupported"]


def test_the_helpers_legacy_types_check_dtypes_construct_and_cast_as_torch(compat):
    torch = pytest.importorskip("torch")
    x64 = np.arange(6, dtype=np.float64).reshape(2, 3)
    pairs = [(compat.FloatTensor, torch.FloatTensor), (compat.DoubleTensor, torch.DoubleTensor),
             (compat.LongTensor, torch.LongTensor), (compat.IntTensor, torch.IntTensor),
             (compat.ByteTensor, torch.ByteTensor), (compat.BoolTensor, torch.BoolTensor)]
    for ms_type, t_type in pairs:
        t = torch.from_numpy(x64).type(t_type)
        m = compat.tensor_type(mindspore.Tensor(x64), ms_type)
        np.testing.assert_array_equal(m.asnumpy(), t.numpy())
        assert compat.tensor_type(m) == t.type()  # the name, without an argument
        for other_ms, other_t in pairs:
            assert isinstance(m, other_ms) == isinstance(t, other_t)
        assert tuple(ms_type(2, 3).shape) == tuple(t_type(2, 3).shape)
        assert ms_type([1, 0]).dtype == compat.tensor_type(mindspore.Tensor(np.array([1, 0])), ms_type).dtype
    by_name = compat.tensor_type(mindspore.Tensor(x64), "torch.cuda.LongTensor")
    assert by_name.dtype == mindspore.int64
    with pytest.raises(ValueError, match="invalid type"):
        compat.tensor_type(mindspore.Tensor(x64), "torch.NoTensor")
    assert not isinstance(np.zeros(2, np.float32), compat.FloatTensor)


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


LEGACY_REDUCTION = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def losses(p, t, logp, y):
        return (F.binary_cross_entropy(p, t, size_average=False),
                nn.MSELoss(size_average=False)(p, t),
                F.nll_loss(logp, y, reduce=False),
                F.mse_loss(p, t, size_average=True, reduction="sum"),
                F.nll_loss(logp, y, None, False),
                nn.BCELoss(reduce=False, size_average=True)(p, t))
    """)


def test_deprecated_size_average_and_reduce_become_torchs_reduction(compat, tmp_path, monkeypatch):
    """``size_average=False`` (the old VAE and GAN examples' losses) and ``reduce=False`` give the
    reduction torch computes from them (a given ``reduction`` is overridden, as in torch); a value
    the codemod cannot read stays unsupported."""
    import warnings

    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(LEGACY_REDUCTION, "legacy_reduction", tmp_path, monkeypatch)
    assert 'binary_cross_entropy(p, t, reduction="sum")' in code and "size_average" not in code, code
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    t = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    logp = np.log(rng.dirichlet(np.ones(5), 4)).astype(np.float32)
    y = rng.integers(0, 5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings
        want = t_mod["losses"](*(torch.from_numpy(a) for a in (p, t, logp, y)))
    got = ms_mod.losses(*(mindspore.Tensor(a) for a in (p, t, logp, y)))
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    unread = convert_source("import torch.nn.functional as F\nloss = F.mse_loss(a, b, size_average=flag)\n", SPEC, "x.py")
    assert [(s.kind, s.rule) for s in unread.sites] == [("unsupported", "torch.nn.functional.mse_loss")]


def test_attributes_a_program_sets_on_its_tensors_are_not_torchs_to_convert():
    """MAML's fast weights (``weight.fast = weight - lr * g``, CloserLookFewShot, MeLU ports): ``fast``
    is no member of torch's tensors, so nothing of torch's is there to convert or report (a
    MindSpore Parameter or tensor takes the attribute too); a torch member the table does not
    map (``is_sparse``) is still reported."""
    pytest.importorskip("torch")
    src = textwrap.dedent("""\
        import torch
        import torch.nn as nn


        class Linear_fw(nn.Linear):
            def __init__(self, a, b):
                super().__init__(a, b)
                self.weight.fast = None

            def forward(self, x):
                if self.weight.fast is not None:
                    return x @ self.weight.fast.t()
                return super().forward(x)


        def adapt(model: nn.Module, grads, lr: float):
            for k, weight in enumerate(model.parameters()):
                weight.fast = weight - lr * grads[k] if weight.fast is None else weight.fast - lr * grads[k]


        def f(x: torch.Tensor):
            return x.is_sparse
        """)
    out = convert_source(src, SPEC, "fast.py")
    assert [(s.kind, s.rule) for s in out.sites if s.kind in ("uncertain", "unsupported")] == [
        ("unsupported", "torch.Tensor.is_sparse")], out.code
    assert "self.weight.fast = None" in out.code and "x @ self.weight.fast.t()" in out.code
    assert "weight.fast = weight - lr * grads[k] if weight.fast is None else weight.fast - lr * grads[k]" in out.code


def test_a_summary_writer_keeps_the_scripts_scalars(compat, tmp_path, monkeypatch):
    """torch.utils.tensorboard.SummaryWriter (train.py of many research repositories): the scalars
    logged land in <log_dir>/scalars.csv; what the helper does not write raises."""
    import pandas as pd

    src = textwrap.dedent("""\
        import torch
        from torch.utils.tensorboard import SummaryWriter


        def log(path, losses):
            writer = SummaryWriter(log_dir=path)
            for step, loss in enumerate(losses):
                writer.add_scalar("train/loss", loss, step)
            writer.add_scalars("eval", {"auc": 0.75, "ndcg": torch.tensor(0.5)}, 3)
            writer.close()
            return writer
        """)
    out = convert_source(src, SPEC, "logs.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "from _torch_compat import SummaryWriter" in out.code
    (tmp_path / "logs_ms.py").write_text(out.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__("logs_ms")
    writer = module.log(str(tmp_path / "run"), [mindspore.Tensor(np.float32(0.5)), 0.25])
    table = pd.read_csv(tmp_path / "run" / "scalars.csv")
    assert table[["tag", "step", "value"]].values.tolist() == [
        ["train/loss", 0, 0.5], ["train/loss", 1, 0.25], ["eval/auc", 3, 0.75], ["eval/ndcg", 3, 0.5]]
    with pytest.raises(NotImplementedError, match="add_histogram"):
        writer.add_histogram("w", np.zeros(3), 0)
