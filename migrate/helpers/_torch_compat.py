"""torch semantics that MindSpore lacks, written with MindSpore ops.

Emitted by ``python -m migrate`` into the converted tree's root, only when a
converted file uses it.  It imports neither torch nor the migration tool.

The optimizers keep torch's protocol: each parameter carries a plain ``.grad``
attribute (a MindSpore ``Parameter`` accepts one in PyNative mode), ``step()``
reads it and ``zero_grad()`` sets it back to ``None``.  Gradients themselves
come from ``mindspore.value_and_grad``; whoever computes them assigns
``p.grad = g``.

On a CPU, importing this module makes MindSpore launch PyNative ops as torch
does, synchronously (``mindspore.runtime.launch_blocking()``): MindSpore's
asynchronous pipeline hands every small op to another thread, which on a
2-core machine cost a MAMO user update 260 ms instead of 150 ms (measured,
``bench/epoch.py``).  Set ``TORCH2MS_ASYNC=1`` to keep the pipeline.
"""

import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence

import mindspore
import numpy as np
from mindspore import nn, ops

if os.environ.get("TORCH2MS_ASYNC") != "1" and mindspore.get_context("device_target") == "CPU":
    mindspore.runtime.launch_blocking()

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm_", "zero_grad", "accumulate_grad", "CrossEntropyLoss",
           "data_loader", "load_state_dict", "save_checkpoint", "load_checkpoint", "cast_cell", "assign_data"]


def _grad(p):
    return getattr(p, "grad", None)


class Optimizer:
    """torch.optim.Optimizer's surface: ``param_groups``, ``state``, ``zero_grad``, ``step``."""

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for group in groups:
            full = dict(self.defaults)
            full.update(group)
            full["params"] = list(full["params"])
            self.param_groups.append(full)
        self.state = {}

    @property
    def parameters(self):
        """Every parameter of every group (what value_and_grad differentiates)."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        raise NotImplementedError

    def _state(self, p):
        return self.state.setdefault(id(p), {})


# SGD's updates, and Adam's on dtypes other than float32 (Adam on float32 runs MindSpore's
# fused kernel, see ``Adam``), run as one compiled graph per parameter group: in PyNative mode
# each small op costs ~0.2 ms on CPU, and a per-parameter loop issues ~10 of them per parameter.
# A plain tuple of Tensors would be a compile-time constant (recompiling every call), so the
# tuples are wrapped in ``mindspore.mutable``; Python floats would be constants too, so the
# per-step scalars travel in one float64 Tensor (one row per parameter) and are cast to each
# parameter's dtype inside, which rounds them as torch rounds a Python float against a tensor.
# Only the booleans (weight decay on, nesterov, ...) are compile-time: a graph is compiled once
# per group shape/dtype signature and flag combination, never again from one step to the next.
# The Parameters themselves go in (``p.value()`` would add one PyNative copy per parameter and
# made a step ~1.6x slower).  The update graph returns the new values and a second small graph
# (``_assign_all``) writes each into its Parameter's own storage with ``ops.assign``:
# ``Parameter.set_data`` swaps the storage instead, and a Cell whose construct is compiled with
# ``mindspore.jit`` would keep reading the old weights.  Measured in MindSpore 2.10: a graph
# whose only output is an empty tuple skips its assigns, hence the returned value.


def _values(params):
    return mindspore.mutable(tuple(params))


def _scalars(rows):
    return mindspore.Tensor(rows, mindspore.float64)


def _per_param(scalars, params):
    """Row i of ``scalars`` cast to ``params[i]``'s dtype, as a tuple of 0-d Tensors.  Each dtype
    casts and splits the whole matrix once (a handful of kernels instead of a slice per scalar)."""
    width = scalars.shape[1]
    split = {}
    rows = []
    for i in range(len(params)):
        dtype = params[i].dtype
        if dtype == mindspore.float32:
            key = 0
        elif dtype == mindspore.float64:
            key = 1
        else:
            key = 2
        if key == 2:
            rows.append(ops.unstack(ops.cast(scalars[i], dtype)))
        else:
            if key not in split:
                split[key] = ops.unstack(ops.cast(scalars, dtype).reshape(-1))
            rows.append(split[key][i * width:(i + 1) * width])
    return rows


@mindspore.jit
def _assign_all(params, values):
    """Write each new value into its Parameter's storage.  A graph of its own: assigns inside the
    update graph (which order every later read of a Parameter after them) made an Adam step over
    15M floats 2-3x slower, and 17 PyNative assigns made a MAMO user update slower still."""
    for i in range(len(params)):
        ops.assign(params[i], values[i])
    return values[0]


@mindspore.jit
def _adam_update(params, grads, exp_avgs, exp_avg_sqs, scalars, weight_decay_on):
    """Rows of ``scalars``: weight_decay, beta1, 1-beta1, beta2, 1-beta2, sqrt(bias_correction2),
    eps, lr/bias_correction1 (each computed in Python double, as torch does)."""
    new_params, new_avgs, new_avg_sqs = [], [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        if weight_decay_on:
            grad = grad + s[0] * p
        exp_avg = s[1] * exp_avgs[i] + s[2] * grad
        exp_avg_sq = s[3] * exp_avg_sqs[i] + s[4] * grad * grad
        denom = ops.sqrt(exp_avg_sq) / s[5] + s[6]
        new_params.append(p - s[7] * exp_avg / denom)
        new_avgs.append(exp_avg)
        new_avg_sqs.append(exp_avg_sq)
    return tuple(new_params), tuple(new_avgs), tuple(new_avg_sqs)


@mindspore.jit
def _sgd_update(params, grads, buffers, scalars, maximize, weight_decay_on, momentum_on, nesterov):
    """Rows of ``scalars``: weight_decay, lr, momentum, buffer coefficient, gradient coefficient.
    The buffer update is ``c_buf * buf + c_grad * grad``: (momentum, 1-dampening) once a buffer
    exists, (0, 1) with a zero buffer on its first step, which gives exactly ``buf = grad``."""
    new_params, new_buffers = [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        if maximize:
            grad = -grad
        if weight_decay_on:
            grad = grad + s[0] * p
        if momentum_on:
            buf = s[3] * buffers[i] + s[4] * grad
            new_buffers.append(buf)
            if nesterov:
                grad = grad + s[2] * buf
            else:
                grad = buf
        new_params.append(p - s[1] * grad)
    return tuple(new_params), tuple(new_buffers)


_APPLY_ADAM = ops.Adam()


def _float32(x):
    return float(np.float32(x))


def _adam_kernel_scalars(step, lr, beta1, beta2, eps):
    """The scalar inputs of ``ops.Adam`` (beta1_power, beta2_power, lr, beta1, beta2, epsilon)
    that make it compute torch's step.

    The kernel computes ``m += (g - m) * (1 - beta1)``, ``v += (g*g - v) * (1 - beta2)`` and
    ``var -= lr * sqrt(1 - beta2_power) / (1 - beta1_power) * m / (sqrt(v) + epsilon)``, all in
    float32.  Torch computes ``lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)`` with the bias
    corrections in double.  Two float32 artefacts are folded out:

    * powers near 1 lose their low digits in float32 (``1 - float32(0.999)`` is 1.3e-5 away from
      0.001), so the powers go in as 0 and both bias corrections travel in ``lr`` and ``epsilon``;
    * the kernel's ``1 - beta2`` is ``1 - float32(beta2)``, where torch multiplies by
      ``float32(1 - beta2)``: the kernel's v is torch's times ``kappa`` (exactly, v being linear
      in those terms), which ``sqrt(kappa)`` in ``lr`` and ``epsilon`` cancels; likewise the
      first moment's ``lam`` (2e-7) is divided out of ``lr``.

    Measured over 5 steps against a float64 evaluation of torch's formula: median error 1.1e-6
    of the step, as torch's own float32 step (4.9e-6, biased, without the compensation)."""
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    kappa = (1 - _float32(beta2)) / _float32(1 - beta2)
    lam = (1 - _float32(beta1)) / _float32(1 - beta1)
    root = math.sqrt(kappa * bc2)
    return 0.0, 0.0, lr * root / (bc1 * lam), beta1, beta2, eps * root


class Adam(Optimizer):
    """torch.optim.Adam's formula: eps is added after the bias correction of the second moment.

    ``mindspore.nn.Adam`` puts eps inside (the TF formula), which at step 1 makes the
    effective eps ~30x larger and lets weights drift from torch's by 1e-2 within 50 steps of
    a small MLP.  Here each float32 parameter is updated in place by MindSpore's fused Adam
    kernel (``ops.Adam``, one kernel per parameter) fed the scalars of
    ``_adam_kernel_scalars``, which make it compute torch's step.  The kernel writes into the
    Parameter's own storage, so a construct compiled with ``mindspore.jit`` sees the new
    weights.  Its second moment (``state["exp_avg_sq"]``) is torch's times ``kappa``
    (1 - 1.3e-5 for beta2 = 0.999).  The kernel takes float32 only: other dtypes (float64 for
    equivalence runs) go through one compiled elementwise update per group (``_adam_update``).
    Measured (``bench/helpers.py``): one step over MAMO's 17 per-user parameters ~2 ms, against
    ~7 ms for the compiled elementwise update; over 15M floats ~20 ms (torch ~27 ms).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        if amsgrad:
            raise NotImplementedError("amsgrad=True is not implemented in _torch_compat.Adam")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            kernel_scalars = {}  # step -> the fused kernel's scalar inputs, shared by the group
            others, states, rows = [], [], []  # float64 (and other dtypes): the compiled update
            for p in group["params"]:
                grad = _grad(p)
                if grad is None:
                    continue
                state = self._state(p)
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = ops.zeros_like(p)
                    state["exp_avg_sq"] = ops.zeros_like(p)
                state["step"] += 1
                step = state["step"]
                if p.dtype != mindspore.float32:
                    bias_correction1 = 1 - beta1**step
                    bias_correction2 = 1 - beta2**step
                    rows.append((weight_decay, beta1, 1 - beta1, beta2, 1 - beta2, math.sqrt(bias_correction2),
                                 eps, lr / bias_correction1))
                    others.append(p)
                    states.append(state)
                    continue
                if step not in kernel_scalars:
                    kernel_scalars[step] = [mindspore.Tensor(v, mindspore.float32)
                                            for v in _adam_kernel_scalars(step, lr, beta1, beta2, eps)]
                if grad.dtype != p.dtype:
                    grad = ops.cast(grad, p.dtype)
                if weight_decay:
                    grad = grad + mindspore.Tensor(weight_decay, p.dtype) * p
                _APPLY_ADAM(p, state["exp_avg"], state["exp_avg_sq"], *kernel_scalars[step], grad)
            if others:
                new_params, exp_avgs, exp_avg_sqs = _adam_update(
                    _values(others), mindspore.mutable(tuple(p.grad for p in others)),
                    mindspore.mutable(tuple(s["exp_avg"] for s in states)),
                    mindspore.mutable(tuple(s["exp_avg_sq"] for s in states)),
                    _scalars(rows), bool(weight_decay))
                _assign_all(_values(others), mindspore.mutable(new_params))
                for state, exp_avg, exp_avg_sq in zip(states, exp_avgs, exp_avg_sqs):
                    state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq


class SGD(Optimizer):
    """torch.optim.SGD's formula (momentum buffer starts as the first gradient).  Each group's
    parameters with a gradient are updated by one compiled call (``_sgd_update``)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(
            params,
            {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
             "nesterov": nesterov, "maximize": maximize},
        )

    def step(self):
        for group in self.param_groups:
            params = [p for p in group["params"] if _grad(p) is not None]
            if not params:
                continue
            momentum, dampening = group["momentum"], group["dampening"]
            states, buffers, rows = [], [], []
            for p in params:
                c_buf, c_grad = momentum, 1 - dampening
                if momentum:
                    state = self._state(p)
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = ops.zeros_like(p)
                        c_buf, c_grad = 0.0, 1.0
                    states.append(state)
                    buffers.append(buf)
                rows.append((group["weight_decay"], group["lr"], momentum, c_buf, c_grad))
            grads = tuple(p.grad for p in params)
            # without momentum the gradients stand in for the (unread) buffers: an empty
            # mutable tuple breaks the compiled graph's inputs in MindSpore 2.10
            new_params, new_buffers = _sgd_update(
                _values(params), mindspore.mutable(grads),
                mindspore.mutable(tuple(buffers) if momentum else grads), _scalars(rows),
                bool(group["maximize"]), bool(group["weight_decay"]), bool(momentum), bool(group["nesterov"]))
            _assign_all(_values(params), mindspore.mutable(new_params))
            for state, buf in zip(states, new_buffers):
                state["momentum_buffer"] = buf


def _vector_norm(x, norm_type):
    """``torch.linalg.vector_norm`` of a flattened tensor, written with reductions that
    compile (``ops.norm`` does not build inside ``mindspore.jit`` in MindSpore 2.10)."""
    if norm_type == float("inf"):
        return ops.abs(x).max()
    if norm_type == 0.0:
        return ops.cast(x != 0, x.dtype).sum()
    if norm_type == 1.0:
        return ops.abs(x).sum()
    if norm_type == 2.0:
        return ops.sqrt((x * x).sum())
    return ops.pow(ops.pow(ops.abs(x), norm_type).sum(), 1.0 / norm_type)


@mindspore.jit
def _clip_grads(grads, max_norm, norm_type):
    """Per-tensor norms, their norm (max for inf) as the total, and the scaled gradients.
    The per-tensor norms are stacked in the widest dtype among them."""
    norms = [_vector_norm(g.reshape(-1), norm_type) for g in grads]
    wide = norms[0].dtype
    for n in norms:
        if n.dtype == mindspore.float64:
            wide = mindspore.float64
    total = _vector_norm(ops.stack([ops.cast(n, wide) for n in norms]), norm_type)
    coef = ops.clamp(ops.cast(max_norm, total.dtype) / (total + 1e-6), max=1.0)
    return total, tuple(g * ops.cast(coef, g.dtype) for g in grads)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """torch.nn.utils.clip_grad_norm_: scales every ``p.grad`` in place, returns the total norm.
    One compiled call (``_clip_grads``); ``max_norm`` travels as a Tensor, so changing it
    does not recompile."""
    if isinstance(parameters, mindspore.Tensor):
        parameters = [parameters]
    params = [p for p in parameters if _grad(p) is not None]
    if not params:
        return mindspore.Tensor(0.0, mindspore.float32)
    total, grads = _clip_grads(mindspore.mutable(tuple(p.grad for p in params)),
                               mindspore.Tensor(float(max_norm), mindspore.float64), float(norm_type))
    for p, g in zip(params, grads):
        p.grad = g
    return total


def accumulate_grad(params, grads):
    """What ``loss.backward()`` does with the gradients: add them to each ``p.grad``."""
    for p, g in zip(params, grads):
        old = _grad(p)
        p.grad = g if old is None else old + g


def _as_tensor(array):
    """A Tensor over ``array``'s memory: callers pass an array nothing else holds."""
    return mindspore.Tensor.from_numpy(array if array.flags.c_contiguous else np.ascontiguousarray(array))


def _is_numeric_array(array):
    return array.dtype.kind in "biufc"


def _collate(batch):
    """torch's ``default_collate`` with MindSpore Tensors: samples' Tensors, numpy arrays and
    numpy scalars are stacked along a new axis 0 (their dtype kept); Python ints become int64,
    floats float64 and bools bool; strings stay a list; tuples give a list of columns, lists,
    named tuples and dicts keep their type."""
    elem = batch[0]
    if isinstance(elem, mindspore.Tensor):
        return _as_tensor(np.stack([b.asnumpy() for b in batch]))
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        stacked = np.stack([np.asarray(b) for b in batch])
        if not _is_numeric_array(stacked):
            raise TypeError(f"data_loader: cannot collate arrays of dtype {stacked.dtype}")
        return _as_tensor(stacked)
    if isinstance(elem, bool):
        return _as_tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return _as_tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _as_tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        collated = {key: _collate([d[key] for d in batch]) for key in elem}
        try:
            return collated if type(elem) is dict else type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(_collate(list(column)) for column in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("data_loader: each element in list of batch should be of equal size")
        columns = [_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(f"data_loader: default collate cannot batch {type(elem).__name__}")


def _convert(sample):
    """torch's ``default_convert`` (``batch_size=None``): numpy arrays and numpy scalars become
    Tensors, containers are walked (a tuple becomes a list), anything else is left as is."""
    if isinstance(sample, mindspore.Tensor):
        return sample
    if isinstance(sample, (np.ndarray, np.generic)) and not isinstance(sample, (np.str_, np.bytes_)):
        array = np.asarray(sample)
        return _as_tensor(array.copy()) if _is_numeric_array(array) else sample
    if isinstance(sample, Mapping):
        return {key: _convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(_convert(d) for d in sample))
    if isinstance(sample, tuple):
        return [_convert(d) for d in sample]
    if isinstance(sample, Sequence) and not isinstance(sample, (str, bytes)):
        try:
            return type(sample)([_convert(d) for d in sample])
        except TypeError:
            return [_convert(d) for d in sample]
    return sample


class _Loader:
    """What ``data_loader`` returns: torch's single-process DataLoader with the default
    collate, in this process (no worker, no pipeline).  Re-iterable; ``len()`` as torch."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._iterable = not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"))
        if self._iterable and shuffle:
            raise ValueError("data_loader: shuffle=True needs a map-style dataset (__getitem__ and __len__)")

    def __len__(self):
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _samples(self):
        if self._iterable:
            yield from self.dataset
            return
        n = len(self.dataset)
        order = np.random.permutation(n) if self.shuffle else range(n)
        for index in order:
            yield self.dataset[int(index)]

    def __iter__(self):
        if self.batch_size is None:
            for sample in self._samples():
                yield _convert(sample)
            return
        batch = []
        for sample in self._samples():
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield _collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield _collate(batch)


def data_loader(dataset, batch_size=1, shuffle=False, drop_last=False):
    """torch.utils.data.DataLoader (single process, default collate) over ``dataset``.

    Iterating yields batches collated like torch's ``default_collate``: a tuple sample gives a
    list of batched Tensors, a dict a dict; numpy arrays, numpy scalars and Tensors are stacked
    along a new axis 0 keeping their dtype, Python ints give int64 and floats float64.
    ``batch_size=None`` yields each sample with its numpy arrays converted to Tensors.
    ``len(loader)`` is the number of batches.  ``shuffle=True`` draws a new
    ``numpy.random.permutation`` each epoch (seeded by ``numpy.random.seed``): every index
    once, in an order that differs from torch's whatever the seed."""
    return _Loader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)


_FLOATS = (mindspore.float16, mindspore.float32, mindspore.float64, mindspore.bfloat16)


def cast_cell(cell, dtype):
    """``module.double()`` / ``module.float()``: every floating Parameter of the Cell (buffers
    included, as torch casts floating buffers too) becomes ``dtype``; returns the Cell."""
    for p in cell.get_parameters():
        if p.dtype in _FLOATS:
            p.set_dtype(dtype)
    return cell


def save_checkpoint(params, path):
    """``torch.save(state_dict, path)``: writes exactly ``path`` (``mindspore.save_checkpoint``
    appends ``.ckpt`` to any other name), atomically."""
    path = os.fspath(path)
    if path.endswith(".ckpt"):
        mindspore.save_checkpoint(params, path)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".ckpt")
    os.close(fd)
    try:
        mindspore.save_checkpoint(params, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path):
    """``torch.load(path)`` of a state dict written by ``save_checkpoint``, whatever its suffix
    (``mindspore.load_checkpoint`` insists on ``.ckpt``)."""
    path = os.fspath(path)
    if path.endswith(".ckpt"):
        return mindspore.load_checkpoint(path)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "checkpoint.ckpt")
        shutil.copyfile(path, copy)
        return mindspore.load_checkpoint(copy)


def load_state_dict(net, state_dict, strict=True):
    """``module.load_state_dict(sd, strict)``: values may be Tensors, Parameters or arrays;
    strict=True raises on missing or unexpected keys, a shape mismatch always raises, as in
    torch.  Values are written into the existing Parameters (``assign_data``), so a construct
    already compiled with ``mindspore.jit`` sees them (``load_param_into_net`` swaps the
    storage, and such a graph keeps reading the old one)."""
    own = net.parameters_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (missing or unexpected):
        raise RuntimeError(f"Error(s) in loading state_dict for {type(net).__name__}: "
                           f"missing keys {missing}, unexpected keys {unexpected}")
    values = {}
    for name, value in state_dict.items():
        if name not in own:
            continue
        if not isinstance(value, mindspore.Tensor):
            value = mindspore.Tensor(np.asarray(value))
        if tuple(value.shape) != tuple(own[name].shape):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(net).__name__}: size mismatch for "
                               f"{name}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                               f"the shape in current model is {tuple(own[name].shape)}")
        values[name] = value
    for name, value in values.items():
        assign_data(own[name], value)
    return missing, unexpected


def assign_data(param, value):
    """``p.data = t``, ``p.data.copy_(t)``: write ``t`` into ``p``'s own storage; returns ``p``.

    ``Parameter.set_data`` swaps the storage instead, and a construct compiled with
    ``mindspore.jit`` that reads ``p`` keeps reading the old one (measured in 2.10).  ``t`` is
    cast to ``p``'s dtype and broadcast to its shape, as ``copy_`` does; only a value of another
    shape that does not broadcast (``p.data = t`` rebinding to a new shape) swaps the storage.

    Not ``Tensor.copy_``, measured in 2.10: it fails on a view into a larger tensor (a split
    piece: "InplaceCopy ... mem_size"), crashed the process on a broadcasting copy into a
    (1, 30, 100) Parameter, and filled MAMO's 64-user learner slower than this (84 against
    62 ms per reset)."""
    if not isinstance(value, mindspore.Tensor):
        value = mindspore.Tensor(np.asarray(value))
    value = ops.cast(value, param.dtype)  # free when the dtypes agree (reading value.dtype can wait on the queue)
    if tuple(value.shape) != tuple(param.shape):
        try:
            target = np.broadcast_shapes(tuple(value.shape), tuple(param.shape))
        except ValueError:
            target = None
        if target != tuple(param.shape):
            param.set_data(value)
            return param
        value = ops.broadcast_to(value, tuple(param.shape))
    if isinstance(param, mindspore.Parameter):
        ops.assign(param, value)
    else:
        param.copy_(value)
    return param


def zero_grad(params):
    """``module.zero_grad()``: forget the gradients of a Cell's parameters (or of an iterable)."""
    if isinstance(params, nn.Cell):
        params = params.get_parameters()
    for p in params:
        p.grad = None


def tanh(input):
    """torch.tanh to float32 accuracy.

    MindSpore 2.10's CPU tanh kernel is accurate below |x| = 2 (1.7e-7) but off by up to
    1.0e-4 for 3 < |x| < 9 (measured against float64 over [-12, 12]; torch: 3e-8).  There
    the helper uses ``1 - 2 / (exp(2|x|) + 1)`` (error ~2e-7: the exp kernel's relative error,
    6e-6, is damped by the small fraction), with |x| capped at 20 (tanh is 1.0 in float32
    beyond 9) so that neither branch of the ``where`` makes an inf or a NaN gradient."""
    magnitude = ops.abs(input)
    capped = ops.minimum(magnitude, 20.0)
    tail = ops.sign(input) * (1 - 2 / (ops.exp(2 * capped) + 1))
    return ops.where(magnitude < 2, ops.tanh(input), tail)


class Tanh(nn.Cell):
    """torch.nn.Tanh, through ``tanh`` above (``mindspore.nn.Tanh`` has the kernel's 1e-4 error)."""

    def construct(self, input):
        return tanh(input)


class CrossEntropyLoss(nn.Cell):
    """torch.nn.CrossEntropyLoss: takes int64 class indices as torch does.

    ``mindspore.nn.CrossEntropyLoss`` rejects int64 labels ("labels should be
    Int32") while ``torch.from_numpy`` of an int array gives int64;
    ``ops.cross_entropy`` accepts both and matches torch's formula.

    The common case (class indices, no class weights, no label smoothing) is computed here
    as torch does it, ``log_softmax`` then the picked entry, targets equal to
    ``ignore_index`` contributing nothing (and not counted by ``mean``).  In a construct
    compiled with ``mindspore.jit`` that compiles in ~0.28 s where ``ops.cross_entropy``
    takes ~0.37 s (once per graph and input shape), and a value-and-gradient step of MAMO's
    loss takes 1.5 instead of 2.0 ms (measured in 2.10).  Other cases (class weights, label
    smoothing, class probabilities as targets) go to ``ops.cross_entropy``."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.weight = weight
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def construct(self, input, target):
        if self.weight is None and self.label_smoothing == 0.0 and target.ndim == input.ndim - 1:
            return self._class_indices(input, target)
        return self._general(input, target)

    def _general(self, input, target):
        # a method of its own: written in construct, this call is parsed even where the branch
        # above is taken, and compiling it costs ~0.1 s per graph (measured in 2.10)
        return ops.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    def _class_indices(self, input, target):
        # log-softmax over the class axis (1, as in torch), written out: ops.log_softmax's CPU
        # kernel is ~7x less accurate in float32 (3.4e-6 against torch's 4.8e-7, measured)
        shifted = input - input.max(axis=1, keepdims=True)
        log_probs = shifted - ops.log(ops.exp(shifted).sum(axis=1, keepdims=True))
        valid = target != self.ignore_index
        safe = ops.where(valid, target, ops.zeros_like(target))
        picked = ops.gather_elements(log_probs, 1, safe.unsqueeze(1)).squeeze(1)
        loss = ops.where(valid, -picked, ops.zeros_like(picked))
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / valid.sum().astype(loss.dtype)
