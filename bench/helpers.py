"""Time the emitted helper (migrate/helpers/_torch_compat.py) against torch and against the
per-parameter PyNative loops it replaced.

    python bench/helpers.py              # about 30 s on a 2-core CPU
    python bench/helpers.py --quick      # fewer repetitions

Measured side by side in one process, for MAMO's 17 parameter shapes (leading axis 1, as in
MAMO) and again with a leading axis of 64 (larger tensors, where the arithmetic dominates):

* one optimizer step: ``torch.optim.Adam`` (default settings: the single-tensor loop on CPU),
  the helper's ``Adam`` (on float32, MindSpore's fused Adam kernel ``ops.Adam`` per parameter,
  all in one compiled call), the same kernels launched one by one in PyNative (the helper of
  sessions 3 to 9), the session-2 helper's compiled elementwise update (one
  ``mindspore.jit`` call computing the update and one assigning the new values in place; the
  helper still runs it for float64; its first step, which compiles, is reported separately)
  and the old per-parameter PyNative loop (inline below, the same formula issuing ~10 small ops
  per parameter);
* ``clip_grad_norm_(params, 1.0)``: torch, the helper (one jit call) and the old loop;
* one step's loss and gradients of a batched three-layer MLP: torch's ``loss.backward()``,
  ``mindspore.value_and_grad`` in PyNative, and the helper's ``compiled_value_and_grad`` (the
  form the tool emits for a training step it finds pure);
* one pass over 1,000 samples of a small map-style dataset (8 numpy arrays per sample, shaped
  like MAMO's episode items) with batch_size=1: the helper's ``data_loader``, the
  ``GeneratorDataset(...).batch(1)`` pipeline it replaced, and ``torch.utils.data.DataLoader``
  (timed from building the loader to the last batch).

Times are medians of repeated runs (ms); the ratios are only comparable within one run on one
machine.  The line "compiles while timed" counts MindSpore graph compilations during the timed
steps and should be 0.  torch's intra-op threads spin-wait: on a 2-core machine that is busy
with something else a torch step can take 100x longer than on an idle one (seen: Adam at
leading axis 1 going from 0.7 to 180 ms/step), so compare on an idle machine or pass
``--torch-threads 1``.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "migrate" / "helpers"))

import mindspore  # noqa: E402
import mindspore.dataset as ds  # noqa: E402
import torch  # noqa: E402
from mindspore import ops  # noqa: E402
from mindspore.common import api as ms_api  # noqa: E402

import _torch_compat as compat  # noqa: E402

MAMO_SHAPES = [(1, 30, 100), (1, 80, 100), (1, 100, 43), (1, 150, 300), (1, 150), (1, 100, 150), (1, 100),
               (1, 200, 400), (1, 200), (1, 100, 200), (1, 100), (1, 200, 200), (1, 200), (1, 100, 200), (1, 100),
               (1, 5, 100), (1, 5)]


def _sync(tensors):
    """Wait for MindSpore's asynchronous PyNative queue."""
    tensors[-1].asnumpy()


def _median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _compiles():
    return len(ms_api.ms_compile_cache)


# ---------------------------------------------------------------- the replaced per-parameter loops


def old_adam_step(params, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """_torch_compat.Adam.step before the fused version: ~10 PyNative ops per parameter."""
    for p in params:
        grad = p.grad
        s = state.setdefault(id(p), {})
        if not s:
            s["step"], s["exp_avg"], s["exp_avg_sq"] = 0, ops.zeros_like(p), ops.zeros_like(p)
        s["step"] += 1
        if weight_decay:
            grad = grad + weight_decay * p
        exp_avg = beta1 * s["exp_avg"] + (1 - beta1) * grad
        exp_avg_sq = beta2 * s["exp_avg_sq"] + (1 - beta2) * grad * grad
        s["exp_avg"], s["exp_avg_sq"] = exp_avg, exp_avg_sq
        bias_correction1, bias_correction2 = 1 - beta1 ** s["step"], 1 - beta2 ** s["step"]
        denom = ops.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
        p.set_data(p - (lr / bias_correction1) * exp_avg / denom)


def old_clip_grad_norm_(params, max_norm, norm_type=2.0):
    """_torch_compat.clip_grad_norm_ before the fused version."""
    norms = ops.stack([ops.norm(p.grad.reshape(-1), norm_type) for p in params])
    total = ops.norm(norms, norm_type)
    coef = ops.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad = p.grad * coef
    return total


def old_data_loader(dataset, batch_size=1, shuffle=False, drop_last=False):
    """_torch_compat.data_loader before the in-process loader: a GeneratorDataset pipeline."""
    first = dataset[0]
    n_columns = len(first) if isinstance(first, (tuple, list)) else 1
    loader = ds.GeneratorDataset(dataset, column_names=[f"column_{i}" for i in range(n_columns)], shuffle=shuffle)
    return loader.batch(batch_size, drop_remainder=drop_last) if batch_size is not None else loader


# ---------------------------------------------------------------- parameters


def make_params(lead):
    rng = np.random.default_rng(0)
    shapes = [(lead,) + s[1:] for s in MAMO_SHAPES]
    values = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]
    return shapes, values, grads


def torch_params(values, grads):
    params = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    return params


def ms_params(values, grads):
    params = [mindspore.Parameter(mindspore.Tensor(v.copy()), name=f"p{i}") for i, v in enumerate(values)]
    for p, g in zip(params, grads):
        p.grad = mindspore.Tensor(g.copy())
    return params


def compiled_elementwise_step(params, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The helper's float32 Adam before it used ``ops.Adam`` (its float64 path still is this):
    ``_adam_update`` computes every new value in one compiled call, ``_assign_all`` writes them."""
    state["step"] = state.get("step", 0) + 1
    step = state["step"]
    if "exp_avg" not in state:
        state["exp_avg"] = [mindspore.ops.zeros_like(p) for p in params]
        state["exp_avg_sq"] = [mindspore.ops.zeros_like(p) for p in params]
    rows = [(0.0, beta1, 1 - beta1, beta2, 1 - beta2, math.sqrt(1 - beta2**step), eps, lr / (1 - beta1**step))] * len(params)
    new, state["exp_avg"], state["exp_avg_sq"] = compat._adam_update(
        compat._values(params), mindspore.mutable(tuple(p.grad for p in params)),
        mindspore.mutable(tuple(state["exp_avg"])), mindspore.mutable(tuple(state["exp_avg_sq"])),
        compat._scalars(rows), False)
    compat._assign_all(compat._values(params), mindspore.mutable(new))


def bench_adam(lead, repeat):
    shapes, values, grads = make_params(lead)
    rows = {}

    tps = torch_params(values, grads)
    t_opt = torch.optim.Adam(tps, lr=1e-3)
    t_opt.step()
    rows["torch.optim.Adam"] = (_median_ms(t_opt.step, repeat), None)

    mps = ms_params(values, grads)
    m_opt = compat.Adam(mps, lr=1e-3)
    m_opt.step()
    before = _compiles()

    def helper_step():
        m_opt.step()
        _sync(mps)

    rows["helper Adam (ops.Adam kernels, one jit call)"] = (_median_ms(helper_step, repeat), None)
    recompiles = _compiles() - before

    kps = ms_params(values, grads)
    k_opt = compat.Adam(kps, lr=1e-3)
    k_opt.step()
    k_state = [k_opt._state(p) for p in kps]
    scalars = [mindspore.Tensor(v, mindspore.float32) for v in compat._adam_kernel_scalars(2, 1e-3, 0.9, 0.999, 1e-8)]

    def kernel_step():  # the session-3..9 helper: one PyNative kernel per parameter
        for p, st in zip(kps, k_state):
            compat._APPLY_ADAM(p, st["exp_avg"], st["exp_avg_sq"], *scalars, p.grad)
        _sync(kps)

    rows["ops.Adam kernel per parameter (PyNative)"] = (_median_ms(kernel_step, repeat), None)

    eps = ms_params(values, grads)
    eps_state = {}
    t0 = time.perf_counter()
    compiled_elementwise_step(eps, eps_state)
    _sync(eps)
    first = (time.perf_counter() - t0) * 1e3
    before = _compiles()

    def elementwise_step():
        compiled_elementwise_step(eps, eps_state)
        _sync(eps)

    rows["compiled elementwise update (2 jit calls)"] = (_median_ms(elementwise_step, repeat), first)
    recompiles += _compiles() - before

    ops_ = ms_params(values, grads)
    state = {}

    def old_step():
        old_adam_step(ops_, state)
        _sync(ops_)

    old_step()
    rows["old per-parameter PyNative loop"] = (_median_ms(old_step, max(3, repeat // 3)), None)
    fused, looped, state = ms_params(values, grads), ms_params(values, grads), {}
    fused_opt = compat.Adam(fused, lr=1e-3)
    for _ in range(5):
        fused_opt.step()
        old_adam_step(looped, state)
    diff = max(float(np.abs(a.asnumpy() - b.asnumpy()).max()) for a, b in zip(fused, looped))
    return shapes, rows, recompiles, f"helper vs old loop after 5 steps: max |diff| {diff:.1e}"


def bench_fresh(lead, repeat):
    """A fresh optimizer's first step (its state allocated, as MAMO's per-user Adam does), and the
    state allocation alone: the helper's host zeros against ops.zeros_like."""
    _, values, grads = make_params(lead)
    tps, mps = torch_params(values, grads), ms_params(values, grads)
    rows = {}

    def torch_fresh():
        torch.optim.Adam(tps, lr=1e-3).step()

    def helper_fresh():
        compat.Adam(mps, lr=1e-3).step()
        _sync(mps)

    def host_zeros():
        _sync([compat._zeros_state(p) for p in mps for _ in range(2)])

    def kernel_zeros():
        _sync([ops.zeros_like(p) for p in mps for _ in range(2)])

    for name, fn in (("torch: new Adam + first step", torch_fresh), ("helper: new Adam + first step", helper_fresh),
                     ("helper state zeros (host, _zeros_state)", host_zeros), ("ops.zeros_like state", kernel_zeros)):
        fn()
        rows[name] = (_median_ms(fn, repeat), None)
    return rows


def bench_clip(lead, repeat):
    shapes, values, grads = make_params(lead)
    rows = {}
    tps = torch_params(values, grads)
    torch.nn.utils.clip_grad_norm_(tps, 1.0)
    rows["torch clip_grad_norm_"] = (_median_ms(lambda: torch.nn.utils.clip_grad_norm_(tps, 1.0), repeat), None)

    mps = ms_params(values, grads)
    t0 = time.perf_counter()
    compat.clip_grad_norm_(mps, 1.0).asnumpy()
    first = (time.perf_counter() - t0) * 1e3
    before = _compiles()
    rows["helper clip_grad_norm_ (1 jit call)"] = (
        _median_ms(lambda: compat.clip_grad_norm_(mps, 1.0).asnumpy(), repeat), first)
    recompiles = _compiles() - before

    ops_ = ms_params(values, grads)
    old_clip_grad_norm_(ops_, 1.0).asnumpy()
    rows["old per-parameter PyNative loop"] = (
        _median_ms(lambda: old_clip_grad_norm_(ops_, 1.0).asnumpy(), max(3, repeat // 3)), None)
    return shapes, rows, recompiles, None


# ---------------------------------------------------------------- one training step's gradients


def bench_gradients(lead, repeat):
    """A three-layer MLP batched along a leading user axis (weights (lead, out, in)), cross-
    entropy over 5 items per user: ``loss.backward()`` in torch, ``mindspore.value_and_grad``
    in PyNative, and the helper's ``compiled_value_and_grad`` (one graph, compiled at its
    first call, reported separately)."""
    rng = np.random.default_rng(0)
    sizes = [(64, 96), (64, 64), (5, 64)]
    values = [rng.standard_normal((lead, o, i)).astype(np.float32) * 0.1 for o, i in sizes]
    values += [np.zeros((lead, o), np.float32) for o, _ in sizes]
    x = rng.standard_normal((lead, 5, 96)).astype(np.float32)
    y = rng.integers(0, 5, (lead, 5))
    rows = {}

    tw = [torch.tensor(v, requires_grad=True) for v in values]
    tx, ty = torch.tensor(x), torch.tensor(y)

    def torch_step():
        h = tx
        for k in range(3):
            h = torch.baddbmm(tw[3 + k].unsqueeze(1), h, tw[k].transpose(1, 2))
            h = torch.relu(h) if k < 2 else h
        loss = torch.nn.functional.cross_entropy(h.reshape(-1, 5), ty.reshape(-1))
        for w in tw:
            w.grad = None
        loss.backward()
        return loss

    rows["torch loss.backward()"] = (_median_ms(torch_step, repeat), None)

    mw = [mindspore.Parameter(mindspore.Tensor(v), name=f"w{k}") for k, v in enumerate(values)]
    mx, my = mindspore.Tensor(x), mindspore.Tensor(y.astype(np.int32))

    def loss_fn(x, y):
        h = x
        for k in range(3):
            h = ops.BatchMatMul(transpose_b=True)(h, mw[k]) + mw[3 + k].unsqueeze(1)
            if k < 2:
                h = ops.relu(h)
        return ops.cross_entropy(h.reshape(-1, 5), y.reshape(-1))

    def pynative():
        loss, grads = mindspore.value_and_grad(loss_fn, None, mw)(mx, my)
        grads[-1].asnumpy()

    rows["mindspore.value_and_grad (PyNative)"] = (_median_ms(pynative, max(3, repeat // 3)), None)

    def compiled():
        loss, grads = compat.compiled_value_and_grad(loss_fn, mw)(mx, my)
        grads[-1].asnumpy()

    t0 = time.perf_counter()
    compiled()
    first = (time.perf_counter() - t0) * 1e3
    before = _compiles()
    rows["helper compiled_value_and_grad (1 graph)"] = (_median_ms(compiled, repeat), first)
    return rows, _compiles() - before


# ---------------------------------------------------------------- data loading


class EpisodeLike:
    """A map-style dataset of 8 numpy arrays per item, shaped like MAMO's episode items
    (user features, support/query item features, multi-hot genres, ratings, scenario)."""

    def __init__(self, n, rng):
        self.n = n
        self.user_x = rng.integers(0, 10, (n, 3))
        self.item_x = rng.integers(0, 10, (n, 15, 2))
        self.multi = rng.random((n, 15, 50)).astype(np.float32)
        self.y = rng.integers(0, 5, (n, 15))
        self.q_x = rng.integers(0, 10, (n, 5, 2))
        self.q_multi = rng.random((n, 5, 50)).astype(np.float32)
        self.q_y = rng.integers(0, 5, (n, 5))
        self.scenario = rng.integers(0, 4, (n, 5))

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return (self.user_x[i], self.item_x[i], self.multi[i], self.y[i], self.q_x[i], self.q_multi[i],
                self.q_y[i], self.scenario[i])


def bench_loader(repeat):
    dataset = EpisodeLike(1000, np.random.default_rng(0))

    def epoch(make):
        def run():
            n = 0
            for batch in make():
                n += 1
            assert n == 1000, n
        return run

    rows = {}
    makers = {
        "torch DataLoader": lambda: torch.utils.data.DataLoader(dataset, batch_size=1),
        "helper data_loader (in-process)": lambda: compat.data_loader(dataset, batch_size=1),
        "old GeneratorDataset(...).batch(1)": lambda: old_data_loader(dataset, batch_size=1),
    }
    for name, make in makers.items():
        epoch(make)()  # warm up (imports, thread pools)
        rows[name] = (_median_ms(epoch(make), repeat), None)
    # sanity: same batches as the old pipeline
    for old, new in zip(old_data_loader(dataset, 1), compat.data_loader(dataset, 1)):
        assert all(np.array_equal(a.asnumpy(), b.asnumpy()) and a.dtype == b.dtype for a, b in zip(old, new))
    return rows


# ---------------------------------------------------------------- report


def print_table(title, rows, reference, unit="ms/step", per=None):
    print(f"\n{title}")
    print(f"  {'':44s} {unit:>10s} {'first call':>11s} {'/ torch':>8s}")
    ref = rows[reference][0]
    for name, (ms, first) in rows.items():
        first_s = f"{first:9.0f} ms" if first is not None else f"{'-':>11s}"
        extra = f"   ({ms / per * 1e3:.0f} us/batch)" if per else ""
        print(f"  {name:44s} {ms:10.2f} {first_s} {ms / ref:7.2f}x{extra}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    repeat = 10 if args.quick else 30
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
    print(f"MindSpore {mindspore.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"numpy {np.__version__}")
    start = time.perf_counter()
    for lead in (1, 64):
        reps = repeat if lead == 1 else max(5, repeat // 3)
        shapes, rows, recompiles, note = bench_adam(lead, reps)
        n = sum(math.prod(s) for s in shapes)
        print_table(f"Adam step, 17 MAMO-shaped parameters, leading axis {lead} ({n:,} floats); "
                    f"compiles while timed: {recompiles}", rows, "torch.optim.Adam")
        helper = rows["helper Adam (ops.Adam kernels, one jit call)"][0]
        elementwise, old = rows["compiled elementwise update (2 jit calls)"][0], rows["old per-parameter PyNative loop"][0]
        print(f"  compiled elementwise / helper: {elementwise / helper:.1f}x;  old loop / helper: {old / helper:.1f}x;  {note}")
        print_table(f"a fresh Adam's first step (state allocated), leading axis {lead}", bench_fresh(lead, reps),
                    "torch: new Adam + first step")
        shapes, rows, recompiles, _ = bench_clip(lead, reps)
        print_table(f"clip_grad_norm_(params, 1.0), same parameters, leading axis {lead}; "
                    f"compiles while timed: {recompiles}", rows, "torch clip_grad_norm_", unit="ms/call")
        fused, old = rows["helper clip_grad_norm_ (1 jit call)"][0], rows["old per-parameter PyNative loop"][0]
        print(f"  old loop / helper: {old / fused:.1f}x")
    for lead in (1, 64):
        rows, recompiles = bench_gradients(lead, repeat if lead == 1 else max(5, repeat // 3))
        print_table(f"one step's loss and gradients, 3-layer MLP batched over {lead} user(s), 5 items each; "
                    f"compiles while timed: {recompiles}", rows, "torch loss.backward()", unit="ms/step")
        eager, graph = rows["mindspore.value_and_grad (PyNative)"][0], rows["helper compiled_value_and_grad (1 graph)"][0]
        print(f"  PyNative / compiled: {eager / graph:.1f}x")
    rows = bench_loader(max(3, repeat // 6))
    print_table("one pass over 1,000 samples (8 numpy arrays each), batch_size=1, from building the loader",
                rows, "torch DataLoader", unit="ms/epoch", per=1000)
    old, new = rows["old GeneratorDataset(...).batch(1)"][0], rows["helper data_loader (in-process)"][0]
    print(f"  GeneratorDataset / helper: {old / new:.1f}x")
    print(f"\ntotal bench time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
