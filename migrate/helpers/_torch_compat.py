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
``bench/epoch.py``).  It also sets ``MS_DEV_HOST_BLOCKING_RUN=1`` (unless already set), which
runs the host side of a compiled (``mindspore.jit``) call on the calling thread: otherwise the
``frontend_queue`` thread spins a core while it waits, and on 2 cores a compiled call then
sometimes takes whole scheduler ticks (``clip_grad_norm_`` of 17 parameters: 2.6-2.8 ms with it,
3.5 or 42 ms without, in runs of ``bench/helpers.py``).  Set ``TORCH2MS_ASYNC=1`` to keep both.
"""

import ast
import bisect
import functools
import inspect
import io
import math
import os
import pickle
import re
import shutil
import sys
import tempfile
import types
import typing
import warnings
import weakref
import zipfile
from collections import Counter, OrderedDict, defaultdict, namedtuple
from collections.abc import Mapping, Sequence

import mindspore
import numpy as np
from mindspore import nn, ops

if os.environ.get("TORCH2MS_ASYNC") != "1" and mindspore.get_context("device_target") == "CPU":
    mindspore.runtime.launch_blocking()
    os.environ.setdefault("MS_DEV_HOST_BLOCKING_RUN", "1")  # read when the runtime starts

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm_", "zero_grad", "accumulate_grad", "CrossEntropyLoss",
           "data_loader", "load_state_dict", "save_checkpoint", "cast_cell", "assign_data",
           "GELU", "randn_like", "arange", "scaled_dot_product_attention", "Final", "softmax", "log_softmax", "Softmax", "LogSoftmax", "binary_cross_entropy", "BCELoss", "TensorDataset", "LRScheduler", "LambdaLR",
           "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "LSTM", "GRU", "RNN", "ELU", "Softplus",
           "cosine_similarity", "CosineSimilarity", "KLDivLoss", "Upsample", "MultiheadAttention",
           "randint", "linspace", "diag", "bernoulli", "one_hot", "normalize", "einsum", "avg_pool2d", "conv2d",
           "interpolate", "pad_sequence", "pad", "scatter_", "scatter_add_", "index_add_", "index_add", "new_full", "new_tensor",
           "calculate_gain", "uniform_", "normal_", "trunc_normal_", "zeros_", "ones_", "constant_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "embedding_from_pretrained",
           "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "clip_grad_value_", "Tanh", "tanh", "legacy_tensor"]


def _grad(p):
    return getattr(p, "grad", None)


#: optimizer state up to this many elements starts as a host (numpy) zero array wrapped in a
#: Tensor: ~0.01-0.2 ms, where ``ops.zeros_like`` launches a kernel at ~0.5-0.8 ms on a CPU in
#: MindSpore 2.10 (1k to 1M elements); from ~2M elements zeros_like is faster (measured,
#: ``bench/helpers.py``: a fresh optimizer's first step)
_HOST_ZEROS_MAX = 1 << 20
_HOST_ZEROS_DTYPES = {mindspore.float16: np.float16, mindspore.float32: np.float32, mindspore.float64: np.float64}


def _zeros_state(p):
    """A zero tensor shaped and typed like ``p``, for an optimizer's state."""
    dtype = _HOST_ZEROS_DTYPES.get(p.dtype)
    if dtype is not None and p.size <= _HOST_ZEROS_MAX:
        return mindspore.Tensor(np.zeros(p.shape, dtype))
    return ops.zeros_like(p)


class Optimizer:
    """torch.optim.Optimizer's surface: ``param_groups``, ``state``, ``zero_grad``, ``step``."""

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = defaultdict(dict)  # torch's: a dict per parameter, made on first read
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """torch's: a group of parameters (a tensor, or an iterable of them) with its own settings,
        the optimizer's defaults filling the rest; a parameter already in a group raises."""
        full = dict(self.defaults)
        full.update(param_group)
        params = full["params"]
        full["params"] = [params] if isinstance(params, mindspore.Tensor) else list(params)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in full["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(full)

    @property
    def parameters(self):
        """Every parameter of every group (what value_and_grad differentiates)."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        """torch's: every ``p.grad`` None, or with ``set_to_none=False`` a zero tensor where there
        was one (a zero gradient is still a gradient: the optimizers step it, as torch's do)."""
        _zero_grads([p for group in self.param_groups for p in group["params"]], set_to_none)

    def step(self):
        raise NotImplementedError

    def _state(self, p):
        return self.state[p]

    def _stepped(self, group, *zeros):
        """The group's parameters that have a gradient, and their states with ``step`` counted;
        a state that is still empty starts at step 0 with a zero tensor under each name in
        ``zeros``."""
        params = [p for p in group["params"] if _grad(p) is not None]
        states = []
        for p in params:
            state = self._state(p)
            if not state:
                state["step"] = 0
                for name in zeros:
                    state[name] = _zeros_state(p)
            state["step"] += 1
            states.append(state)
        return params, states

    def state_dict(self):
        """torch's layout: ``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``,
        parameters numbered across the groups in order; ``step`` as torch keeps it (a float32
        0-d tensor)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = self._state_out(group, p, self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """torch's: the saved groups' hyperparameters and each parameter's state (tensors copied,
        floating ones cast to the parameter's dtype), matched by position."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        params = {}
        for saved, own in zip(groups, self.param_groups):
            params.update(zip(saved["params"], own["params"]))
            own.update({key: value for key, value in saved.items() if key != "params"})
        self.state = defaultdict(dict)
        for key, saved in state_dict["state"].items():
            p = params[int(key)]
            group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
            self.state[p] = self._state_in(group, p, saved)

    def _state_out(self, group, p, state):
        out = dict(state)
        if "step" in out:
            out["step"] = mindspore.Tensor(float(out["step"]), mindspore.float32)
        return out

    def _state_in(self, group, p, saved):
        state = {}
        for name, value in saved.items():
            if name == "step":
                value = int(float(value))
            elif isinstance(value, (mindspore.Tensor, np.ndarray)):
                value = mindspore.Tensor(np.array(value.asnumpy() if isinstance(value, mindspore.Tensor) else value))
                if value.dtype in _FLOATS and p.dtype in _FLOATS and value.dtype != p.dtype:
                    value = ops.cast(value, p.dtype)
            state[name] = value
        return state

    @staticmethod
    def _write_back(params, new_params, states, **columns):
        """The compiled update's new values into the parameters (in place), and each column of
        new state values (one per state) under its name."""
        _assign_all(_values(params), mindspore.mutable(new_params))
        for name, values in columns.items():
            for state, value in zip(states, values):
                state[name] = value


def _column(states, name):
    """The states' tensors under ``name``, as a compiled update's (mutable) tuple input."""
    return mindspore.mutable(tuple(state[name] for state in states))


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


def _followed(grad, p, weight_decay, maximize, decay_on):
    """The gradient an update follows, inside a compiled update (the flags are compile-time):
    negated to maximize, plus ``weight_decay * p`` (torch's coupled weight decay)."""
    if maximize:
        grad = -grad
    if decay_on:
        grad = grad + weight_decay * p
    return grad


@mindspore.jit
def _sgd_update(params, grads, buffers, scalars, maximize, weight_decay_on, momentum_on, nesterov):
    """Rows of ``scalars``: weight_decay, lr, momentum, buffer coefficient, gradient coefficient.
    The buffer update is ``c_buf * buf + c_grad * grad``: (momentum, 1-dampening) once a buffer
    exists, (0, 1) with a zero buffer on its first step, which gives exactly ``buf = grad``."""
    new_params, new_buffers = [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        grad = _followed(grad, p, s[0], maximize, weight_decay_on)
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


@mindspore.jit
def _adam_kernels(params, exp_avgs, exp_avg_sqs, grads, beta1_power, beta2_power, lr, beta1, beta2, eps):
    """``ops.Adam`` on every parameter of a group, in one compiled call (the kernels write the
    parameters and moments in place, as the PyNative ones do: same values, tested).  Measured
    (``bench/helpers.py``): MAMO's 17 per-user parameters at one user 1.1 ms against 2.5 ms for
    17 PyNative kernels; at 64 users the same (~11 ms)."""
    done = True
    for i in range(len(params)):
        done = ops.depend(done, _APPLY_ADAM(params[i], exp_avgs[i], exp_avg_sqs[i], beta1_power, beta2_power, lr,
                                            beta1, beta2, eps, grads[i]))
    return done


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
    kernel (``ops.Adam``, one kernel per parameter, all of a group's in one compiled call,
    ``_adam_kernels``) fed the scalars of
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
            kernel_rows = {}  # step -> (parameter, exp_avg, exp_avg_sq, gradient) of its float32 parameters
            others, other_states, rows = [], [], []  # float64 (and other dtypes): the compiled update
            params, states = self._stepped(group, "exp_avg", "exp_avg_sq")
            for p, state in zip(params, states):
                step = state["step"]
                if p.dtype != mindspore.float32:
                    bias_correction1 = 1 - beta1**step
                    bias_correction2 = 1 - beta2**step
                    rows.append((weight_decay, beta1, 1 - beta1, beta2, 1 - beta2, math.sqrt(bias_correction2),
                                 eps, lr / bias_correction1))
                    others.append(p)
                    other_states.append(state)
                    continue
                if step not in kernel_scalars:
                    kernel_scalars[step] = [mindspore.Tensor(v, mindspore.float32)
                                            for v in _adam_kernel_scalars(step, lr, beta1, beta2, eps)]
                grad = p.grad
                if grad.dtype != p.dtype:
                    grad = ops.cast(grad, p.dtype)
                if weight_decay:
                    grad = grad + mindspore.Tensor(weight_decay, p.dtype) * p
                kernel_rows.setdefault(step, []).append((p, state["exp_avg"], state["exp_avg_sq"], grad))
            for step, rows_of_step in kernel_rows.items():
                if len(rows_of_step) == 1:
                    _APPLY_ADAM(*rows_of_step[0][:3], *kernel_scalars[step], rows_of_step[0][3])
                else:  # one compiled call for the group's kernels
                    columns = [mindspore.mutable(tuple(column)) for column in zip(*rows_of_step)]
                    _adam_kernels(*columns, *kernel_scalars[step])
            if others:
                new_params, exp_avgs, exp_avg_sqs = _adam_update(
                    _values(others), mindspore.mutable(tuple(p.grad for p in others)),
                    _column(other_states, "exp_avg"), _column(other_states, "exp_avg_sq"), _scalars(rows),
                    bool(weight_decay))
                self._write_back(others, new_params, other_states, exp_avg=exp_avgs, exp_avg_sq=exp_avg_sqs)


    def _kappa(self, group, p):
        """What the fused kernel's second moment is torch's times (1 for other dtypes)."""
        beta2 = group["betas"][1]
        return (1 - _float32(beta2)) / _float32(1 - beta2) if p.dtype == mindspore.float32 else 1.0

    def _state_out(self, group, p, state):
        out = super()._state_out(group, p, state)
        kappa = self._kappa(group, p)
        if kappa != 1.0 and "exp_avg_sq" in out:
            out["exp_avg_sq"] = out["exp_avg_sq"] / mindspore.Tensor(kappa, mindspore.float64).astype(p.dtype)
        return out

    def _state_in(self, group, p, saved):
        state = super()._state_in(group, p, saved)
        kappa = self._kappa(group, p)
        if kappa != 1.0 and "exp_avg_sq" in state:
            state["exp_avg_sq"] = state["exp_avg_sq"] * mindspore.Tensor(kappa, mindspore.float64).astype(p.dtype)
        return state


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
                        buf = _zeros_state(p)
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


@mindspore.jit
def _clip_grads(grads, max_norm, norm_type):
    """Per-tensor norms, their norm (max for inf) as the total, and the scaled gradients.
    The per-tensor norms are stacked in the widest dtype among them."""
    norms = [norm(g, norm_type) for g in grads]
    wide = norms[0].dtype
    for n in norms:
        if n.dtype == mindspore.float64:
            wide = mindspore.float64
    total = norm(ops.stack([ops.cast(n, wide) for n in norms]), norm_type)
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
    """What ``loss.backward()`` does with the gradients: add them to each ``p.grad``; a None
    gradient (a Parameter the loss never reached) leaves ``p.grad`` as it was."""
    for p, g in zip(params, grads):
        if g is None:
            continue
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

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, sampler=None,
                 batch_sampler=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._iterable = not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"))
        if self._iterable and shuffle:
            raise ValueError("data_loader: shuffle=True needs a map-style dataset (__getitem__ and __len__)")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler if self.sampler is not None else self.dataset)
        return n if self.batch_size is None else _batch_count(n, self.batch_size, self.drop_last)

    def _samples(self):
        if self._iterable:
            yield from self.dataset
            return
        if self.sampler is not None:
            order = self.sampler
        else:
            n = len(self.dataset)
            order = np.random.permutation(n) if self.shuffle else range(n)
        for index in order:
            yield self.dataset[int(index)]

    def __iter__(self):
        collate = self.collate_fn
        if self.batch_sampler is not None:  # batches of indices as the sampler forms them
            for indices in self.batch_sampler:
                yield (collate or _collate)([self.dataset[int(i)] for i in indices])
            return
        if self.batch_size is not None and collate is None and self.sampler is None \
                and _plain_tensor_dataset(self.dataset):
            yield from self._tensor_batches()
            return
        if self.batch_size is None:
            for sample in self._samples():
                yield _convert(sample) if collate is None else collate(sample)
            return
        collate = collate or _collate
        for batch in _batches(self._samples(), self.batch_size, self.drop_last):
            yield collate(batch)

    def _tensor_batches(self):
        """A TensorDataset's batches as slices of its tensors: what collating its rows gives
        (each row's dtype kept, stacked along a new axis 0), without one PyNative op per row.
        The tensors are read once per epoch; the order is drawn as ``_samples`` draws it."""
        arrays = [t.asnumpy() if isinstance(t, mindspore.Tensor) else np.asarray(t) for t in self.dataset.tensors]
        n = len(self.dataset)
        order = np.random.permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            index = order[start:start + self.batch_size]
            yield [_as_tensor(array[index]) for array in arrays]


def _batches(items, size, drop_last):
    """``items`` in lists of ``size`` (the last one shorter unless ``drop_last``), as torch batches."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch and not drop_last:
        yield batch


def _batch_count(n, size, drop_last):
    """How many lists ``_batches`` makes of ``n`` items."""
    return n // size if drop_last else -(-n // size)


#: DataLoader options with no effect on what an in-process loader yields (api_map drops them)
_LOADER_IGNORED = frozenset({"pin_memory", "num_workers", "persistent_workers", "prefetch_factor", "timeout",
                             "pin_memory_device", "in_order", "multiprocessing_context"})
#: DataLoader options the helper cannot honour, and why (api_map reports them unsupported)
_LOADER_REFUSED = {
    "worker_init_fn": "no equivalent",
    "generator": "shuffling order differs from torch's whatever the seed",
}


def data_loader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, sampler=None,
                batch_sampler=None, **options):
    """torch.utils.data.DataLoader (single process, default collate) over ``dataset``.

    Iterating yields batches collated like torch's ``default_collate``: a tuple sample gives a
    list of batched Tensors, a dict a dict; numpy arrays, numpy scalars and Tensors are stacked
    along a new axis 0 keeping their dtype, Python ints give int64 and floats float64.
    ``batch_size=None`` yields each sample with its numpy arrays converted to Tensors.
    ``len(loader)`` is the number of batches.  ``shuffle=True`` draws a new
    ``numpy.random.permutation`` each epoch (seeded by ``numpy.random.seed``): every index
    once, in an order that differs from torch's whatever the seed.  ``collate_fn``, as in torch,
    is called with each batch's list of samples (with each sample when ``batch_size=None``).
    ``sampler`` (any iterable of indices: a project's Sampler class, or this module's
    ``SequentialSampler``/``RandomSampler``/``SubsetRandomSampler``) gives the order of the
    samples; ``batch_sampler`` (an iterable of lists of indices, ``BatchSampler`` or a few-shot
    episode sampler) gives each batch whole; torch's rules on combining them with ``shuffle``,
    ``batch_size`` and ``drop_last`` hold.

    ``options`` are the rest of torch's DataLoader arguments, as ``DataLoader(ds, **kwargs)``
    passes them: loading options (``num_workers``, ``pin_memory``, ...) change nothing here and
    are ignored; ``worker_init_fn`` and ``generator`` raise NotImplementedError unless None; any
    other name is a TypeError, as in torch."""
    for name, value in options.items():
        if name in _LOADER_REFUSED:
            if value is not None:
                raise NotImplementedError(f"DataLoader({name}=...): {_LOADER_REFUSED[name]}")
        elif name not in _LOADER_IGNORED:
            raise TypeError(f"DataLoader() got an unexpected keyword argument '{name}'")
    return _Loader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, collate_fn=collate_fn,
                   sampler=sampler, batch_sampler=batch_sampler)


class Sampler:
    """torch.utils.data.Sampler: the base of a project's samplers (``__iter__`` yields indices,
    ``__len__`` counts them); ``data_source`` is accepted and ignored, as in torch."""

    def __init__(self, data_source=None):
        pass


class SequentialSampler(Sampler):
    """torch.utils.data.SequentialSampler: 0 .. len(data_source) - 1 in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """torch.utils.data.RandomSampler without replacement: a numpy.random.permutation per epoch
    (every index once, in an order that differs from torch's whatever the seed); with
    ``replacement=True`` or ``num_samples``, numpy.random.randint draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if generator is not None:
            raise NotImplementedError("RandomSampler(generator=...): the order differs from torch's whatever the seed")
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples

    def __len__(self):
        return self._num_samples if self._num_samples is not None else len(self.data_source)

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            return iter(np.random.randint(0, n, size=len(self)).tolist())
        order = np.concatenate([np.random.permutation(n) for _ in range(-(-len(self) // n))])[:len(self)]
        return iter(order.tolist())


class SubsetRandomSampler(Sampler):
    """torch.utils.data.SubsetRandomSampler: the given indices in a new numpy.random.permutation
    order every epoch (an order that differs from torch's whatever the seed)."""

    def __init__(self, indices, generator=None):
        if generator is not None:
            raise NotImplementedError("SubsetRandomSampler(generator=...): the order differs from torch's whatever the seed")
        self.indices = indices

    def __iter__(self):
        return iter([self.indices[i] for i in np.random.permutation(len(self.indices))])

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """torch.utils.data.BatchSampler: ``sampler``'s indices in lists of ``batch_size`` (the last
    one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        return _batches(self.sampler, self.batch_size, self.drop_last)

    def __len__(self):
        return _batch_count(len(self.sampler), self.batch_size, self.drop_last)


__all__ += ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class TensorDataset:
    """torch.utils.data.TensorDataset: item ``i`` is the tuple of every tensor's row ``i``,
    ``len()`` their common first dimension, ``.tensors`` the tensors as given.

    ``data_loader`` batches it by slicing each tensor with the batch's indices, which gives what
    collating its rows gives (each row's dtype kept, stacked along a new axis 0) without a
    PyNative op per row and sample; a subclass that overrides ``__getitem__`` is read item by
    item instead."""

    def __init__(self, *tensors):
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset:
    """torch.utils.data.Subset: ``dataset`` seen through ``indices`` (item ``i`` is
    ``dataset[indices[i]]``; ``.dataset`` and ``.indices`` as given)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset:
    """torch.utils.data.ConcatDataset: the datasets one after the other (negative indices count
    from the end; ``.datasets`` and ``.cumulative_sizes`` as torch's)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        self.cumulative_sizes = [int(n) for n in np.cumsum([len(d) for d in self.datasets])]

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """torch.utils.data.random_split: disjoint ``Subset``s of the given lengths (or fractions
    summing to 1, the remainder spread round-robin as torch does) over a random permutation.
    The permutation is numpy's (seeded by ``np.random``), not torch's generator's stream: the
    same sizes, other members."""
    if generator is not None:
        raise NotImplementedError("random_split(generator=...): seed numpy (np.random.seed) instead")
    n = len(dataset)
    if np.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(np.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = np.random.permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + length]))
        start += length
    return out


__all__ += ["Subset", "ConcatDataset", "random_split"]


def _plain_tensor_dataset(dataset):
    return isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__


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


# -- torch.save / torch.load of any object -------------------------------------------------------
# torch.save pickles whatever it is given (a checkpoint dict of state dicts, epochs and metrics, a
# whole module, a list of tensors) and torch.load unpickles it.  ``save``/``load`` do the same for
# MindSpore objects: Tensors and Parameters are pickled as numpy arrays with their dtype, and
# the Primitives inside a Cell by their class and init arguments (MindSpore's own Primitives do
# not pickle), so a whole Cell round-trips.  ``load`` also reads what ``save_checkpoint`` wrote
# (a MindSpore checkpoint) and, without torch, what torch.save wrote: its tensors come back as
# MindSpore Tensors (a torch module inside such a file cannot, and is named in the error).

_TORCH_STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128, "UntypedStorage": np.uint8,
}
#: the torch dtypes a torch file may name, as MindSpore's
_TORCH_DTYPES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool_",
    "complex64": "complex64", "complex128": "complex128",
}
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: what ``load(..., weights_only=True)`` unpickles besides tensors (torch's allowlist, in spirit)
_SAFE_GLOBALS = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
                 ("builtins", "complex"), ("builtins", "slice"), ("builtins", "range"), ("builtins", "bytearray")}


#: MindSpore's dtypes by name, with the numpy dtype their values travel as (a pickled dtype
#: object would need MindSpore's C++ type classes; bfloat16, which numpy lacks, as float32)
_MS_DTYPES = {str(getattr(mindspore, name)): (getattr(mindspore, name), np.dtype(wire)) for name, wire in (
    ("bool_", np.bool_), ("int8", np.int8), ("int16", np.int16), ("int32", np.int32), ("int64", np.int64),
    ("uint8", np.uint8), ("uint16", np.uint16), ("uint32", np.uint32), ("uint64", np.uint64),
    ("float16", np.float16), ("float32", np.float32), ("float64", np.float64), ("bfloat16", np.float32),
    ("complex64", np.complex64), ("complex128", np.complex128))}


def _tensor_state(t):
    """(bytes, shape, dtype name) of a MindSpore tensor, as ``_rebuild_tensor`` takes them (plain
    values, so that unpickling needs no numpy or MindSpore global)."""
    dtype = t.dtype
    if dtype == mindspore.bfloat16:
        t = ops.cast(t, mindspore.float32)
    array = t.asnumpy()  # tobytes() is row-major whatever the layout (ascontiguousarray would make a 0-d array 1-d)
    return array.tobytes(), array.shape, str(dtype)


def _rebuild_tensor(raw, shape, dtype_name):
    dtype, wire = _MS_DTYPES[dtype_name]
    t = mindspore.Tensor(np.frombuffer(raw, wire).reshape(shape).copy())
    return t if t.dtype == dtype else ops.cast(t, dtype)


def _rebuild_parameter(raw, shape, dtype_name, name, requires_grad):
    return mindspore.Parameter(_rebuild_tensor(raw, shape, dtype_name), name=name, requires_grad=requires_grad)


def _rebuild_primitive(cls, attrs):
    return cls(**attrs)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, mindspore.Parameter):
            return _rebuild_parameter, (*_tensor_state(obj), obj.name, obj.requires_grad)
        if isinstance(obj, mindspore.Tensor):
            return _rebuild_tensor, _tensor_state(obj)
        if isinstance(obj, mindspore.ops.Primitive):
            return _rebuild_primitive, (type(obj), dict(obj.init_attrs))
        return NotImplemented


def save(obj, f, pickle_module=None, pickle_protocol=4, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """``torch.save(obj, f)``: pickles ``obj``, whatever it is (MindSpore Tensors, Parameters and
    Cells included); ``load`` reads it back.  ``f`` is a path, written atomically (a failure
    leaves no file, or the old one), or a binary file object."""
    if pickle_module is not None:
        raise NotImplementedError("save: pickle_module is not supported")
    if hasattr(f, "write"):
        _Pickler(f, protocol=pickle_protocol).dump(obj)
        return
    path = os.fspath(f)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".save-")
    try:
        with os.fdopen(fd, "wb") as out:
            _Pickler(out, protocol=pickle_protocol).dump(obj)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class _Refused(pickle.UnpicklingError):
    """A file ``load`` will not read (its message names the file and why)."""


class _Unpickler(pickle.Unpickler):
    """Unpickles what ``save`` wrote; with ``weights_only`` only containers, numbers, strings and
    tensors (as torch's ``weights_only=True``)."""

    _OWN = {"_rebuild_tensor": _rebuild_tensor, "_rebuild_parameter": _rebuild_parameter}

    def __init__(self, file, source, weights_only):
        super().__init__(file)
        self.source = source
        self.weights_only = weights_only

    def find_class(self, module, name):
        if name in self._OWN and module.rpartition(".")[2] == "_torch_compat":
            return self._OWN[name]
        if self.weights_only:
            if (module, name) in _SAFE_GLOBALS:
                return super().find_class(module, name)
            raise _Refused(f"{self.source}: weights_only=True refuses to load {module}.{name}; "
                                         "load(f, weights_only=False) if the file is trusted")
        return super().find_class(module, name)


class _TorchStorage:
    def __init__(self, name):
        self.dtype = _TORCH_STORAGES[name]


def _torch_array(storage, offset, size, stride):
    """A torch tensor's values out of its storage (an array of the storage's dtype), copied."""
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride))
    return np.array(view)


class _TorchUnpickler(pickle.Unpickler):
    """Reads a torch.save zip archive without torch: storages become numpy arrays, tensors
    MindSpore Tensors (Parameters for torch's Parameters), torch.Size a tuple, torch.device
    its string, a torch dtype MindSpore's."""

    def __init__(self, file, archive, prefix, source, weights_only):
        super().__init__(file)
        self.archive, self.prefix, self.source, self.weights_only = archive, prefix, source, weights_only
        self.storages = {}

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"{self.source}: unknown torch storage record {kind!r}")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            dtype = storage_type.dtype
            if dtype == "bfloat16":  # numpy has none: the high 16 bits of a float32
                array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
                self.storages[key] = ("bfloat16", array)
            else:
                self.storages[key] = (None, np.frombuffer(raw, dtype))
        return self.storages[key]

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return self._rebuild_parameter
        if module == "torch._utils" and name == "_rebuild_parameter_with_state":
            return lambda data, requires_grad, hooks, state: self._rebuild_parameter(data, requires_grad, hooks)
        if module == "torch" and name in _TORCH_STORAGES:
            return _TorchStorage(name)
        if module == "torch" and name == "Size":
            return tuple
        if module == "torch" and name == "device":
            return lambda *args: ":".join(str(a) for a in args)
        if module == "torch" and name in _TORCH_DTYPES:
            return getattr(mindspore, _TORCH_DTYPES[name])
        if module == "torch" or module.startswith("torch."):
            raise _Refused(
                f"{self.source}: a torch file holding {module}.{name}, which has no MindSpore counterpart "
                "here (only tensors, containers and plain Python objects load without torch); for a "
                "whole torch module, save its state_dict() with torch and convert it with "
                "`python -m migrate.weights`")
        if self.weights_only and (module, name) not in _SAFE_GLOBALS:
            raise _Refused(f"{self.source}: weights_only=True refuses to load {module}.{name}; "
                                         "load(f, weights_only=False) if the file is trusted")
        return super().find_class(module, name)

    def _rebuild_tensor(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        kind, array = storage
        t = mindspore.Tensor(_torch_array(array, offset, size, stride))
        return ops.cast(t, mindspore.bfloat16) if kind == "bfloat16" else t

    def _rebuild_parameter(self, data, requires_grad, hooks):
        return mindspore.Parameter(data, requires_grad=requires_grad)


def _load_torch_zip(data, source, weights_only):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pickles = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pickles:
            raise pickle.UnpicklingError(f"{source}: a zip file, but not one torch.save wrote (no data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        if f"{prefix}byteorder" in archive.namelist() and archive.read(f"{prefix}byteorder").strip() != b"little":
            raise pickle.UnpicklingError(f"{source}: a big-endian torch file")
        unpickler = _TorchUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix, source, weights_only)
        return unpickler.load()


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """``torch.load(f)``: what ``save`` pickled, a MindSpore checkpoint (what ``save_checkpoint``
    wrote: a dict of Parameters) or a file torch.save wrote (read without torch: tensors become
    MindSpore Tensors).  ``map_location`` and ``mmap`` change nothing (MindSpore places tensors
    per process).  ``weights_only=True`` unpickles only containers, numbers, strings and
    tensors; by default (as torch before 2.6) the file is trusted and any object loads."""
    if pickle_module is not None:
        raise NotImplementedError("load: pickle_module is not supported")
    if hasattr(f, "read"):
        source, data = getattr(f, "name", "<file object>"), f.read()
    else:
        source = os.fspath(f)
        with open(source, "rb") as file:
            data = file.read()
    if data[:4] == b"PK\x03\x04":
        return _load_torch_zip(data, source, bool(weights_only))
    if data[:1] == b"\x80":
        unpickler = _Unpickler(io.BytesIO(data), source, bool(weights_only))
        try:
            obj = unpickler.load()
        except _Refused:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise pickle.UnpicklingError(f"{source}: not a file save() or torch.save() wrote, or a truncated "
                                         f"one ({exc})") from exc
        except (AttributeError, ImportError) as exc:  # a class the file names that this program lacks
            raise pickle.UnpicklingError(f"{source}: holds an object of a class this program cannot import "
                                         f"({exc})") from exc
        if type(obj) is int and obj == _TORCH_LEGACY_MAGIC:
            raise pickle.UnpicklingError(f"{source}: torch's legacy (pre-1.6) format; save it again with a "
                                         "current torch, or convert a state dict with `python -m migrate.weights`")
        return obj
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "checkpoint.ckpt")
        with open(copy, "wb") as out:
            out.write(data)
        try:
            return mindspore.load_checkpoint(copy)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise pickle.UnpicklingError(f"{source}: neither a pickle (save, torch.save) nor a MindSpore "
                                         "checkpoint: corrupt, or not a checkpoint") from exc


__all__ += ["save", "load"]


def load_state_dict(net, state_dict, strict=True):
    """``module.load_state_dict(sd, strict)``: values may be Tensors, Parameters or arrays;
    strict=True raises on missing or unexpected keys, a shape mismatch always raises, as in
    torch; a tied weight may come under any of its paths (``_parameter_aliases``).  Values are
    written into the existing Parameters (``assign_data``), so a construct already compiled with
    ``mindspore.jit`` sees them (``load_param_into_net`` swaps the storage, and such a graph
    keeps reading the old one)."""
    own = net.parameters_dict()
    aliases = _parameter_aliases(net, own)
    given = {id(own[k]) for k in state_dict if k in own} | {id(aliases[k]) for k in state_dict if k in aliases}
    missing = [k for k in own if id(own[k]) not in given]
    unexpected = [k for k in state_dict if k not in own and k not in aliases]
    own = {**aliases, **own}
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


def assign_data_of(x, value):
    """torch's ``x.data = value`` where the tool could not tell what ``x`` is: a MindSpore tensor
    is written in place (``assign_data``: ``Tensor.data``'s own setter swaps a Parameter's
    storage, and a compiled construct keeps reading the old one), any other object gets the
    attribute."""
    if isinstance(x, mindspore.Tensor):
        assign_data(x, value)
    else:
        x.data = value


__all__ += ["assign_data_of"]


def _parameter_aliases(net, own):
    """A tied Parameter's other names: the attribute paths (``head.weight``) under which a Cell
    of ``net`` holds a Parameter that ``parameters_dict`` lists once, under its own name
    (``embed.embedding_table``).  torch's ``state_dict`` lists a tied weight under every path,
    so loading one must take those keys."""
    listed = {id(p) for p in own.values()}
    aliases = {}
    for prefix, cell in net.cells_and_names():
        for name, param in vars(cell).get("_params", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            if param is not None and id(param) in listed and path not in own:
                aliases[path] = param
    return aliases


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
    elif _is_view(param):
        param[...] = value  # writes through into the tensor it was indexed from, as torch's
    else:
        param.copy_(value)
    return param


def _is_view(t):
    """``t`` is a view into a larger tensor (``p[i]``, ``p[:, 1]``: offset, strided or a part
    of its storage).  Measured in MindSpore 2.10: ``copy_`` into such a view fails
    ("InplaceCopy ... mem_size") or, past offset 0, writes nothing without a word, and
    ``ops.assign`` refuses it; ``view[...] = value`` writes into the base tensor (a Parameter
    too), as torch's ``copy_`` does, but costs ~2 ms where copy_ costs ~0.04 ms."""
    try:
        return (t.storage_offset() != 0 or not t.is_contiguous()
                or t.untyped_storage().nbytes() != t.size * t.itemsize)
    except (AttributeError, RuntimeError, TypeError):
        return False


def requires_grad_(tensor, requires_grad=True):
    """torch's ``t.requires_grad_(flag)``: a Parameter's ``requires_grad`` set (what
    ``value_and_grad`` over a Cell's trainable parameters reads); returns the tensor.  A plain
    MindSpore tensor carries no such flag (gradients are taken with respect to function inputs):
    turning it off is what it already is, turning it on is refused with that reason.  On a Cell,
    torch's ``module.requires_grad_(flag)``: every one of its ``module_parameters`` (frozen ones
    too, buffers not), and the Cell returned."""
    if isinstance(tensor, nn.Cell):
        for param in module_parameters(tensor):
            param.requires_grad = bool(requires_grad)
        return tensor
    if isinstance(tensor, mindspore.Parameter):
        tensor.requires_grad = bool(requires_grad)
    elif requires_grad:
        raise NotImplementedError("requires_grad_(True) on a plain tensor: MindSpore differentiates with respect "
                                  "to a function's inputs or a Cell's Parameters (mindspore.value_and_grad); "
                                  "make it a mindspore.Parameter")
    return tensor


# ---------------------------------------------------------------- torch's parameters()
# torch's ``module.parameters()`` lists every Parameter, frozen (``requires_grad=False``) or not,
# and leaves buffers out.  The tool turns buffers into non-trainable Parameters (register_buffer),
# as MindSpore's own layers hold their statistics (BatchNorm's moving mean), so ``requires_grad``
# alone cannot tell a frozen Parameter from a buffer: ``trainable_params()`` left the frozen ones
# out, and an EMA teacher or a momentum encoder updated over a frozen copy's ``parameters()``
# (mean teacher, MoCo, BYOL, target networks) was silently never updated.  So a Parameter the
# program freezes (its ``requires_grad`` set from True to False: ``p.requires_grad = False``,
# ``requires_grad_``, ``from_pretrained(freeze=True)``), or makes frozen (``torch_parameter``), is
# marked, the mark is kept by ``copy.deepcopy``, and ``module_parameters`` lists the trainable
# and the marked ones, in MindSpore's order.
_PARAMETER_REQUIRES_GRAD = mindspore.Parameter.requires_grad
_PARAMETER_DEEPCOPY = mindspore.Parameter.__deepcopy__
_PARAMETER_INIT = mindspore.Parameter.__init__


def _parameter_init(self, *args, **kwargs):
    _PARAMETER_INIT(self, *args, **kwargs)
    self._torch_built = True  # from now on a change of requires_grad is the program's


def _set_requires_grad(self, value=True):
    if value is False and getattr(self, "_torch_built", False) and _PARAMETER_REQUIRES_GRAD.fget(self):
        self._torch_frozen = True  # built trainable, frozen by the program
    _PARAMETER_REQUIRES_GRAD.fset(self, value)


def _parameter_deepcopy(self, memodict):
    new = _PARAMETER_DEEPCOPY(self, memodict)
    if getattr(self, "_torch_frozen", False):
        new._torch_frozen = True
    return new


mindspore.Parameter.requires_grad = property(_PARAMETER_REQUIRES_GRAD.fget, _set_requires_grad,
                                             doc=_PARAMETER_REQUIRES_GRAD.__doc__)
mindspore.Parameter.__deepcopy__ = _parameter_deepcopy
mindspore.Parameter.__init__ = _parameter_init
#: torch's ``p.grad`` is None until a backward (or for a frozen parameter); a MindSpore Parameter
#: has no ``grad`` at all, so reading it before the first step raised AttributeError
mindspore.Parameter.grad = None


def torch_parameter(default_input, name=None, requires_grad=True):
    """torch's ``nn.Parameter(data, requires_grad=flag)``: a Parameter, which built frozen is still
    one of its module's ``parameters()`` in torch (``module_parameters`` lists it), unlike a
    buffer."""
    param = mindspore.Parameter(default_input, name=name, requires_grad=bool(requires_grad))
    if not requires_grad:
        param._torch_frozen = True
    return param


def _is_torch_parameter(param):
    return param.requires_grad or getattr(param, "_torch_frozen", False)


def module_parameters(cell, recurse=True):
    """torch's ``module.parameters(recurse)``: the Cell's trainable Parameters and those the
    program froze, not buffers (converted buffers and MindSpore's own statistics)."""
    return [param for param in cell.get_parameters(expand=recurse) if _is_torch_parameter(param)]


#: torch's names of what MindSpore's layers name otherwise (the table's attribute renames): the
#: Parameters, and the sub-Cells of the Transformer layers
_TORCH_PARAMETER_NAMES = (
    (nn.Embedding, {"embedding_table": "weight"}),
    ((nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm), {"gamma": "weight", "beta": "bias"}),
    (nn.PReLU, {"w": "weight"}),
)
_TORCH_CELL_NAMES = (
    ((nn.TransformerEncoderLayer, nn.TransformerDecoderLayer), {"dense1": "linear1", "dense2": "linear2"}),
)


def _torch_name(cell, name, table):
    for classes, renames in table:
        if isinstance(cell, classes):
            return renames.get(name, name)
    return name


def _torch_named_parameters(cell, prefix, recurse, seen, cells):
    """(torch's path, Parameter) of ``cell``'s Parameters, its own first, then each sub-Cell's in
    order (as torch's ``named_parameters`` and MindSpore's ``parameters_and_names``), once each."""
    if id(cell) in cells:
        return
    cells.add(id(cell))
    for name, param in vars(cell).get("_params", {}).items():
        if param is not None and getattr(param, "inited_param", None) is not None:
            param = param.inited_param
        if param is not None and id(param) not in seen:
            seen.add(id(param))
            torch_name = _torch_name(cell, name, _TORCH_PARAMETER_NAMES)
            yield (f"{prefix}.{torch_name}" if prefix else torch_name), param
    if recurse:
        for name, child in vars(cell).get("_cells", {}).items():
            if child is not None:
                torch_name = _torch_name(cell, name, _TORCH_CELL_NAMES)
                yield from _torch_named_parameters(child, f"{prefix}.{torch_name}" if prefix else torch_name,
                                                   recurse, seen, cells)


def module_named_parameters(cell, prefix="", recurse=True, remove_duplicate=True):
    """torch's ``module.named_parameters(prefix, recurse)``: ``(name, Parameter)`` for the Parameters
    ``module_parameters`` lists, under torch's names: a LayerNorm's or BatchNorm's ``gamma`` is
    ``weight`` and ``beta`` ``bias``, an Embedding's ``embedding_table`` ``weight``, a PReLU's
    ``w`` ``weight`` (code choosing weight-decay groups by ``"bias"``/``"LayerNorm.weight"`` in the
    name, or freezing layers by name, picked other Parameters with MindSpore's); buffers are left
    out, a tied Parameter comes once.  A ``state_dict()`` keeps MindSpore's names."""
    if not remove_duplicate:
        raise NotImplementedError("named_parameters(remove_duplicate=False): MindSpore lists a tied Parameter once")
    for name, param in _torch_named_parameters(cell, prefix, recurse, set(), set()):
        if _is_torch_parameter(param):
            yield name, param


__all__ += ["torch_parameter", "module_parameters", "module_named_parameters"]


def tensor_set(tensor, source):
    """torch's ``t.set_(source)`` with a tensor: ``t`` takes ``source``'s values and shape (in
    place where the shape is the same, by swapping a Parameter's storage where it is not)."""
    if tuple(source.shape) == tuple(tensor.shape):
        return assign_data(tensor, source)
    if not isinstance(tensor, mindspore.Parameter):
        raise NotImplementedError(f"set_ to another shape ({tuple(tensor.shape)} -> {tuple(source.shape)}) on a "
                                  "tensor that is not a Parameter: MindSpore cannot resize it in place")
    tensor.set_data(ops.cast(source, tensor.dtype))
    return tensor


#: torch's memory formats: a MindSpore tensor has one layout, so the arguments taking one
#: (``memory_format=``) are dropped where the table maps them; these stand for them elsewhere
preserve_format = "preserve_format"
contiguous_format = "contiguous_format"
channels_last = "channels_last"

__all__ += ["requires_grad_", "tensor_set", "preserve_format", "contiguous_format", "channels_last"]


# torch's layer Parameter and buffer names that MindSpore spells otherwise for some classes (the
# table's renamed attributes: BatchNorm's weight is gamma, Embedding's embedding_table, ...)
_LAYER_RENAMES = {
    "weight": ("gamma", "embedding_table", "w"),
    "bias": ("beta",),
    "running_mean": ("moving_mean",),
    "running_var": ("moving_variance",),
}


def layer_attr(layer, name):
    """``layer.<name>`` for a torch layer attribute MindSpore renames in some classes, where the
    tool could not tell the layer's class (``m.weight`` in a ``weights_init(m)`` that tests
    ``m.__class__.__name__``): the attribute itself where ``layer`` has it (a Dense's ``weight``,
    any object's own), else the one MindSpore name of it ``layer`` has (a BatchNorm's
    ``gamma``, an Embedding's ``embedding_table``).  Compiles inside ``mindspore.jit``."""
    if hasattr(layer, name):
        return getattr(layer, name)
    found = [alt for alt in _LAYER_RENAMES.get(name, ()) if hasattr(layer, alt)]
    if len(found) == 1:
        return getattr(layer, found[0])
    raise AttributeError(f"{type(layer).__name__} has no attribute {name!r} (nor one MindSpore name for it)")


__all__ += ["layer_attr"]


def zero_grad(params, set_to_none=True):
    """``module.zero_grad(set_to_none)``: forget the gradients of a Cell's parameters (or of an
    iterable), or with ``set_to_none=False`` zero those that have one, as torch's."""
    if isinstance(params, nn.Cell):
        params = params.get_parameters()
    _zero_grads(params, set_to_none)


def _zero_grads(params, set_to_none):
    for p in params:
        if set_to_none or _grad(p) is None:
            p.grad = None
        else:
            p.grad = ops.zeros_like(p.grad)


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


class GELU(nn.Cell):
    """torch.nn.GELU: the exact form ``x * Phi(x)`` unless ``approximate="tanh"``.

    ``mindspore.nn.GELU`` takes a bool and defaults to the tanh approximation (``nn.GELU()`` is
    up to 4.7e-4 off torch's ``nn.GELU()``, measured in 2.10); ``ops.gelu`` takes torch's
    strings, and is within 4.4e-7 of the exact form in float32 (torch 9.4e-7)."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def construct(self, input):
        return ops.gelu(input, approximate=self.approximate)


def randn_like(input, dtype=None):
    """torch.randn_like: standard normal numbers of ``input``'s shape and, unless ``dtype`` is
    given, its dtype (``ops.randn_like`` gives float32 for a float16 or float64 input).  Another
    random stream than torch's."""
    return ops.randn_like(input, dtype=input.dtype if dtype is None else dtype)


def arange(start=0, end=None, step=1, *, dtype=None):
    """torch.arange: ``ops.arange``'s values and dtypes (int64 for integers, float32 when a
    bound or the step is a float), cheaper to compile.  ``ops.arange`` sorts its arguments'
    types out through Python-level casts, which cost ~40 ms of graph compilation per call
    inside ``mindspore.jit`` (~7 ms this way; MindSpore 2.10, measured); Python numbers go
    straight to the ``Range`` kernel here, and tensor arguments to ``ops.arange``."""
    if end is None:
        start, end = 0, start
    if isinstance(start, int) and isinstance(end, int) and isinstance(step, int):
        data = ops.range(start, end, step)
    elif isinstance(start, (int, float)) and isinstance(end, (int, float)) and isinstance(step, (int, float)):
        data = ops.range(float(start), float(end), float(step))
    else:
        return ops.arange(start, end, step, dtype=dtype)
    if dtype is not None:
        data = ops.cast(data, dtype)
    return data


def _implicit_dim(ndim):
    """The dim torch's softmax, log_softmax and softmin take when none is given (its deprecated
    implicit choice, ``torch.nn.functional._get_softmax_dim``): 0 for 0-, 1- and 3-D input,
    else 1.  MindSpore's own default is always the last axis."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, *, dtype=None):
    """torch.nn.functional.softmax(input) without dim: over torch's implicit dim."""
    if dtype is not None:
        input = ops.cast(input, dtype)
    return ops.softmax(input, _implicit_dim(input.ndim))


def log_softmax(logits):
    """torch.nn.functional.log_softmax(input) without dim: over torch's implicit dim."""
    return ops.log_softmax(logits, _implicit_dim(logits.ndim))


class Softmax(nn.Cell):
    """torch.nn.Softmax() without dim: a softmax over torch's implicit dim, which depends on the
    input's rank (0 for 0-, 1- and 3-D input, else 1), where mindspore.nn.Softmax always takes
    the last axis."""

    def construct(self, input):
        return softmax(input)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.softmin: ``softmax(-input)`` over ``dim``, or over torch's implicit dim
    (0 for 0-, 1- and 3-D input, else 1) when it is left out."""
    if dtype is not None:
        input = ops.cast(input, dtype)
    return ops.softmax(-input, _implicit_dim(input.ndim) if dim is None else dim)


class Softmin(nn.Cell):
    """torch.nn.Softmin(dim): ``softmin`` over ``dim`` (torch's implicit dim when left out)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def construct(self, input):
        return softmin(input, self.dim)


__all__ += ["softmin", "Softmin"]


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """torch.nn.functional.leaky_relu: ``input`` where it is positive, ``negative_slope * input``
    elsewhere, written as one multiply by a selected factor.  Against MindSpore's
    ``ops.leaky_relu`` (``maximum(alpha * x, x)``):

    * torch's gradient at 0, the slope; ``maximum``'s gradient splits the tie (0.505 for the
      slope 0.01, measured);
    * in float64 the slope exact (a Python float in a MindSpore graph is a float32 constant:
      ``ops.leaky_relu`` computes ``x * float32(0.1)``), in float32 torch's ``float32(slope)``;
    * in a compiled training step 5 kernels for the forward and backward where ``maximum`` takes
      ~12 (Greater, Less, Equal, Selects): MAMO's 5-layer per-user step 36 kernels fewer, its
      meta-training ~10% faster (measured, session 19).

    Values and gradients equal torch's bit for bit in float32 and float64 (tested).  ``inplace``
    is accepted and ignored: the result is a new tensor."""
    slope = mindspore.Tensor(negative_slope, mindspore.float64).astype(input.dtype)
    return input * ops.where(input > 0, mindspore.Tensor(1.0, input.dtype), slope)


class LeakyReLU(nn.Cell):
    """torch.nn.LeakyReLU(negative_slope=0.01): ``leaky_relu`` (torch's gradient at 0, an exact
    float64 slope, fewer kernels than mindspore.nn.LeakyReLU); ``negative_slope`` is torch's
    attribute."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def construct(self, input):
        return leaky_relu(input, self.negative_slope)


__all__ += ["leaky_relu", "LeakyReLU"]


class LogSoftmax(nn.Cell):
    """torch.nn.LogSoftmax() without dim: over torch's implicit dim (see Softmax)."""

    def construct(self, input):
        return log_softmax(input)


def _clamped_logs(input):
    """``log(p)`` and ``log(1 - p)``, each at least -100 as torch clamps them.  The inner
    ``where`` keeps each log's argument positive, so that no inf (nor a NaN gradient) comes
    out at p = 0 or 1."""
    has_p = input > 0
    log_p = ops.where(has_p, ops.log(ops.where(has_p, input, 1.0)), -100.0)
    has_q = input < 1
    log_q = ops.where(has_q, ops.log1p(-ops.where(has_q, input, 0.0)), -100.0)
    return ops.maximum(log_p, -100.0), ops.maximum(log_q, -100.0)


class _BinaryCrossEntropyTerms(nn.Cell):
    """Unweighted, unreduced binary cross-entropy with torch's value and torch's gradients.

    The gradient is written out (``bprop``) because torch's is not the derivative of its
    clamped value: d/dp is ``(p - t) / max(p (1 - p), 1e-12)`` (0 at p = t = 1, where the
    clamped formula's derivative is -1), d/dt is ``log(1 - p) - log(p)`` unclamped (inf at
    p = 0 or 1)."""

    def construct(self, input, target):
        log_p, log_q = _clamped_logs(input)
        return (target - 1) * log_q - target * log_p

    def bprop(self, input, target, out, dout):
        grad_input = dout * (input - target) / ops.maximum((1 - input) * input, 1e-12)
        grad_target = dout * (ops.log1p(-input) - ops.log(input))
        return grad_input, grad_target


_BCE_TERMS = _BinaryCrossEntropyTerms()


def _check_reduction(name, reduction, choices=("mean", "sum", "none")):
    if reduction not in choices:
        raise ValueError(f"{name}: unknown reduction {reduction!r}")


def _reduced(loss, reduction):
    """torch's ``reduction`` ('mean', 'sum', 'none') of an elementwise loss."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy on probabilities: ``-w (t log p + (1-t) log(1-p))``
    with each log clamped at -100 as torch does, and torch's gradients (``_BinaryCrossEntropyTerms``).

    ``ops.binary_cross_entropy`` clamps p to [1e-12, 1 - 1e-12] instead (loss 27.63 where torch
    gives 100 at p = 0 or 1 against the other label, 27.63 where torch gives 69.08 at p = 1e-30),
    takes no float64, and in MindSpore 2.10 on CPU returned 2.5e36 for a (5,) weight against a
    (6, 5) input (measured) where its documentation promises broadcasting.  Here the weight
    broadcasts as in torch.  Unlike torch, values outside [0, 1] are not rejected."""
    loss = _BCE_TERMS(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduced(loss, reduction)


class BCELoss(nn.Cell):
    """torch.nn.BCELoss through ``binary_cross_entropy`` above."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        self.weight = weight
        self.reduction = reduction

    def construct(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


# ---------------------------------------------------------------- layers with torch's arguments


def _ntuple(value, n):
    """``value`` repeated ``n`` times unless it is a sequence already (torch's ``_pair`` & co.)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


def _conv_pads(name, padding, kernel_size, stride, dilation):
    """torch's convolution ``padding`` (an int, a tuple, ``'valid'`` or ``'same'``) as
    ``(before, after)`` per spatial axis; ``'same'`` puts the odd element after, as torch does."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * len(kernel_size)
        if padding != "same":
            raise ValueError(f"{name}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
        return tuple((t // 2, t - t // 2) for t in total)
    return tuple((p, p) for p in _ntuple(padding, len(kernel_size)))


def _check_padding_mode(name, padding_mode):
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                         f"got {padding_mode!r}")
    return "constant" if padding_mode == "zeros" else padding_mode


class Conv1d(nn.Cell):
    """torch.nn.Conv1d: torch's arguments and defaults (``padding`` an int, a 1-tuple, ``'valid'``
    or ``'same'``; a bias unless ``bias=False``; ``padding_mode``) and torch's weight layout
    ``(out, in / groups, k)`` and initialization.  ``mindspore.nn.Conv1d`` keeps a
    ``(out, in / groups, 1, k)`` weight, pads ``'same'`` by default and has no bias by default.
    A 2-D (unbatched) input is accepted, as in torch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        super().__init__()
        kernel_size, stride, dilation = _ntuple(kernel_size, 1), _ntuple(stride, 1), _ntuple(dilation, 1)
        (before, after), = _conv_pads("Conv1d", padding, kernel_size, stride, dilation)
        pad_op = _check_padding_mode("Conv1d", padding_mode)
        if in_channels % groups or out_channels % groups:
            raise ValueError("Conv1d: in_channels and out_channels must be divisible by groups")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.dilation, self.groups = stride, dilation, groups
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, 1)  # torch's attribute
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups, kernel_size[0])
        self.weight = mindspore.Parameter(
            mindspore.common.initializer.initializer(mindspore.common.initializer.HeUniform(math.sqrt(5)), shape,
                                                     mindspore.float32), name="weight")
        if bias:
            bound = 1 / math.sqrt(shape[1] * shape[2])
            self.bias = mindspore.Parameter(
                mindspore.common.initializer.initializer(mindspore.common.initializer.Uniform(bound),
                                                         (out_channels,), mindspore.float32), name="bias")
        else:
            self.bias = None
        if pad_op == "constant" and before == after:
            self._pre_pad, self._pad = None, before
        else:
            self._pre_pad, self._pad = (before, after), 0
        self._pad_op = pad_op

    def construct(self, input):
        unbatched = input.ndim == 2
        if unbatched:
            input = input.expand_dims(0)
        if self._pre_pad is not None:
            input = ops.pad(input, self._pre_pad, mode=self._pad_op)
        output = ops.conv1d(input, self.weight, self.bias, self.stride[0], "pad", self._pad, self.dilation[0],
                            self.groups)
        if unbatched:
            output = output.squeeze(0)
        return output


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d: torch's arguments and defaults on ``mindspore.nn.Conv2d`` (same weight
    layout and initialization).  ``padding`` may be an int, an ``(h, w)`` tuple, ``'valid'`` or
    ``'same'`` (MindSpore's own default is ``pad_mode='same'``, and it has no bias unless
    ``has_bias=True``); ``padding_mode`` other than ``'zeros'`` pads the input with ``ops.pad``
    first.  A 3-D (unbatched) input is accepted, as in torch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        kernel_size, stride, dilation = _ntuple(kernel_size, 2), _ntuple(stride, 2), _ntuple(dilation, 2)
        (top, bottom), (left, right) = _conv_pads("Conv2d", padding, kernel_size, stride, dilation)
        pad_op = _check_padding_mode("Conv2d", padding_mode)
        zeros = pad_op == "constant"
        super().__init__(in_channels, out_channels, kernel_size, stride, "pad",
                         (top, bottom, left, right) if zeros else 0, dilation, groups, bool(bias))
        # torch's padding attribute ((h, w) or the string), which user code hands on to F.conv2d
        # (DeepCTR's Conv2dSame); MindSpore's (top, bottom, left, right) went into the kernel above
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, 2)
        self.padding_mode = padding_mode
        self.groups = groups
        # ops.pad takes the last axis first, as torch's F.pad does
        self._pre_pad = None if zeros or not any((top, bottom, left, right)) else (left, right, top, bottom)
        self._pad_op = pad_op

    def construct(self, x):
        unbatched = x.ndim == 3
        if unbatched:
            x = x.expand_dims(0)
        if self._pre_pad is not None:
            x = ops.pad(x, self._pre_pad, mode=self._pad_op)
        output = self.conv2d(x, self.weight)
        if self.has_bias:
            output = self.bias_add(output, self.bias)
        if unbatched:
            output = output.squeeze(0)
        return output


def _transposed_size(size, kernel_size, stride, padding, dilation, output_padding):
    """torch's output size of a transposed convolution, axis by axis."""
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1
                 for n, k, s, p, d, o in zip(size, kernel_size, stride, padding, dilation, output_padding))


class ConvTranspose2d(nn.Conv2dTranspose):
    """torch.nn.ConvTranspose2d on ``mindspore.nn.Conv2dTranspose`` (same ``(in, out / groups, kh,
    kw)`` weight and initialization), with torch's argument order (``groups`` before ``bias``,
    ``dilation`` after it) and defaults.  ``output_padding`` is computed as torch computes it, by
    asking the kernel for the larger output: ``mindspore.nn.Conv2dTranspose`` appends zeros after
    the bias instead (0.71 off torch with stride 2, padding 1, output_padding 1, measured).
    ``forward(input, output_size)`` is accepted (the last two entries are the output's height and
    width; not checked against the reachable range as torch does)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros"):
        if padding_mode != "zeros":
            raise ValueError("ConvTranspose2d: only padding_mode='zeros' is supported (as in torch)")
        ph, pw = _ntuple(padding, 2)
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 2), _ntuple(stride, 2), "pad",
                         (ph, ph, pw, pw), 0, _ntuple(dilation, 2), groups, bool(bias))
        self.output_padding = _ntuple(output_padding, 2)
        self.groups = groups
        self.padding_mode = padding_mode
        self._torch_padding = (ph, pw)

    def construct(self, x, output_size=None):
        unbatched = x.ndim == 3
        if unbatched:
            x = x.expand_dims(0)
        n, _, h, w = x.shape
        if output_size is None:
            out_h, out_w = _transposed_size((h, w), self.kernel_size, self.stride, self._torch_padding, self.dilation,
                                            self.output_padding)
        else:
            out_h, out_w = output_size[-2], output_size[-1]
        output = self.conv2d_transpose(x, self.weight, (n, self.out_channels, out_h, out_w))
        if self.has_bias:
            output = self.bias_add(output, self.bias)
        if unbatched:
            output = output.squeeze(0)
        return output


class MaxPool2d(nn.MaxPool2d):
    """torch.nn.MaxPool2d: ``stride`` defaults to ``kernel_size`` (MindSpore's to 1) and
    ``padding`` is honoured (``pad_mode='pad'``; MindSpore's default ``'valid'`` ignores it)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, kernel_size if stride is None else stride, "pad", padding, dilation,
                         return_indices, ceil_mode)


class AvgPool2d(nn.AvgPool2d):
    """torch.nn.AvgPool2d: ``stride`` defaults to ``kernel_size`` (MindSpore's to 1) and
    ``padding`` is honoured (``pad_mode='pad'``); ``ceil_mode``, ``count_include_pad`` and
    ``divisor_override`` as torch's (measured equal)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, kernel_size if stride is None else stride, "pad", padding, ceil_mode,
                         count_include_pad, divisor_override)


def _unbatched_rnn(cell, x, hx, batch_first, is_lstm, seq_length=None):
    """torch's RNNs accept an unbatched ``(L, H_in)`` input (and ``(layers, H)`` states);
    MindSpore's want a batch axis: add it, run ``cell``, and take it out again."""
    unbatched = x.ndim == 2
    if unbatched:
        x = x.expand_dims(0 if batch_first else 1)
        if hx is not None:
            hx = (hx[0].expand_dims(1), hx[1].expand_dims(1)) if is_lstm else hx.expand_dims(1)
    output, h_n = cell(x, hx, seq_length)
    if unbatched:
        output = output.squeeze(0 if batch_first else 1)
        h_n = (h_n[0].squeeze(1), h_n[1].squeeze(1)) if is_lstm else h_n.squeeze(1)
    return output, h_n


class LSTM(nn.LSTM):
    """torch.nn.LSTM's arguments on ``mindspore.nn.LSTM`` (same parameter names, shapes, gate
    order and U(-1/sqrt(hidden), 1/sqrt(hidden)) initialization; ``(output, (h_n, c_n))`` as
    torch's): ``bias`` is ``has_bias``, an int ``dropout`` (``dropout=0``) is accepted (MindSpore
    takes floats only) and an unbatched 2-D input works.  No ``proj_size``.

    ``construct`` and ``__call__`` are written out in each of LSTM, GRU and RNN, not shared by a
    mixin: MindSpore 2.10's graph compiler reads a mixin's ``super().construct`` against the
    instance's class and recursed without end (measured)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0):
        if proj_size:
            raise ValueError("LSTM: proj_size has no MindSpore equivalent")
        super().__init__(input_size, hidden_size, num_layers=num_layers, has_bias=bool(bias),
                         batch_first=bool(batch_first), dropout=float(dropout), bidirectional=bool(bidirectional))

    def construct(self, x, hx=None, seq_length=None):
        return _unbatched_rnn(super().construct, x, hx, self.batch_first, True, seq_length)

    def __call__(self, x, *args, **kwargs):
        if isinstance(x, PackedSequence):
            return _packed_rnn(self, super().__call__, x, *args, **kwargs)
        return super().__call__(x, *args, **kwargs)


class GRU(nn.GRU):
    """torch.nn.GRU's arguments on ``mindspore.nn.GRU`` (see ``LSTM``; returns ``(output, h_n)``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False):
        super().__init__(input_size, hidden_size, num_layers=num_layers, has_bias=bool(bias),
                         batch_first=bool(batch_first), dropout=float(dropout), bidirectional=bool(bidirectional))

    def construct(self, x, hx=None, seq_length=None):
        return _unbatched_rnn(super().construct, x, hx, self.batch_first, False, seq_length)

    def __call__(self, x, *args, **kwargs):
        if isinstance(x, PackedSequence):
            return _packed_rnn(self, super().__call__, x, *args, **kwargs)
        return super().__call__(x, *args, **kwargs)


class RNN(nn.RNN):
    """torch.nn.RNN's arguments (``nonlinearity`` fourth, as in torch) on ``mindspore.nn.RNN``
    (see ``LSTM``; returns ``(output, h_n)``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False):
        super().__init__(input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity,
                         has_bias=bool(bias), batch_first=bool(batch_first), dropout=float(dropout),
                         bidirectional=bool(bidirectional))

    def construct(self, x, hx=None, seq_length=None):
        return _unbatched_rnn(super().construct, x, hx, self.batch_first, False, seq_length)

    def __call__(self, x, *args, **kwargs):
        if isinstance(x, PackedSequence):
            return _packed_rnn(self, super().__call__, x, *args, **kwargs)
        return super().__call__(x, *args, **kwargs)



def numpy_index(index):
    """A numpy value used as a tensor's index, as torch reads it: a numpy integer is an int, an
    array a Tensor (integer arrays and bool masks), a tuple of them (``np.where(mask)``) one
    index per axis.  MindSpore 2.10's indexing refuses numpy integers and arrays (measured).
    Anything else is returned as it is.  Compiles inside mindspore.jit (a numpy constant)."""
    if isinstance(index, tuple):
        return tuple(numpy_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return mindspore.Tensor(index)
    if isinstance(index, np.generic):
        return index.item()
    return index


__all__ += ["numpy_index"]


def _index_tensor(x):
    """Indices (a Tensor, numpy array or nested list) as an int64 MindSpore tensor."""
    if isinstance(x, mindspore.Tensor):
        return x if x.dtype == mindspore.int64 else ops.cast(x, mindspore.int64)
    return mindspore.Tensor(np.asarray(x, dtype=np.int64))


class _HostObject:
    """What the helper's tensor-like objects (``SparseTensor``, ``PackedSequence``) share:
    ``to(dtype)`` casts them (through ``_cast``), a device changes nothing (MindSpore places
    tensors per process), as ``cpu()`` and ``cuda()`` do not."""

    is_cuda = False

    def to(self, *args, **kwargs):
        dtype = next((a for a in (*args, kwargs.get("dtype")) if isinstance(a, mindspore.dtype.Type)), None)
        return self if dtype is None or dtype == self.dtype else self._cast(dtype)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        return self


class SparseTensor(_HostObject):
    """torch's sparse COO tensor (``torch.sparse_coo_tensor``, the legacy
    ``torch.sparse.FloatTensor(indices, values, size)``): ``indices()`` (ndim, nnz) int64 and
    ``values()`` (nnz, ...) as torch gives them, ``size()``, ``coalesce()`` (duplicates summed,
    indices sorted), ``to_dense()``, ``t()``, ``to(...)`` and ``@``/``torch.sparse.mm`` against a
    dense matrix.  MindSpore's own ``COOTensor`` takes (nnz, ndim) int32 indices and few ops
    accept it; here the product is ``ops.SparseTensorDenseMatmul``, whose gradients with
    respect to the values and the dense matrix are torch's (measured within 4e-6; MindSpore
    2.10 calls the primitive deprecated since 2.8 and names no successor taking gradients).  Reading
    ``indices()``/``values()`` of an uncoalesced tensor raises, as torch's does."""

    is_sparse = True
    layout = "sparse_coo"

    def __init__(self, indices, values, size=None, dtype=None, coalesced=False):
        self._idx = _index_tensor(indices)
        if not isinstance(values, mindspore.Tensor):
            values = mindspore.Tensor(np.asarray(values))
        if dtype is not None:
            values = ops.cast(values, dtype)
        self._vals = values
        if size is None:  # torch: the smallest size holding every index
            host = self._idx.asnumpy()
            size = tuple(int(host[d].max()) + 1 if host.shape[1] else 0 for d in range(host.shape[0]))
            size += tuple(values.shape[1:])
        self._size = tuple(int(s) for s in size)
        self._coalesced = bool(coalesced)

    # torch's accessors
    def indices(self):
        self._check_coalesced("indices")
        return self._idx

    def values(self):
        self._check_coalesced("values")
        return self._vals

    def _indices(self):
        return self._idx

    def _values(self):
        return self._vals

    def _check_coalesced(self, what):
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first")

    def _nnz(self):
        return int(self._vals.shape[0])

    def is_coalesced(self):
        return self._coalesced

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    @property
    def shape(self):
        return self._size

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return self._vals.device if hasattr(self._vals, "device") else "CPU"

    def dim(self):
        return len(self._size)

    def coalesce(self):
        """Duplicate indices summed (their values' gradients kept), indices sorted row-major."""
        if self._coalesced:
            return self
        host = self._idx.asnumpy()
        sparse_dims = self._size[:host.shape[0]]
        flat = np.ravel_multi_index(tuple(host), sparse_dims) if host.shape[1] else np.zeros(0, np.int64)
        unique, inverse = np.unique(flat, return_inverse=True)
        indices = np.stack(np.unravel_index(unique, sparse_dims)).astype(np.int64).reshape(len(sparse_dims), -1)
        values = ops.unsorted_segment_sum(self._vals, mindspore.Tensor(inverse.astype(np.int32)), len(unique))
        return SparseTensor(indices, values, self._size, coalesced=True)

    def to_dense(self):
        dense = ops.zeros(self._size, self._vals.dtype)
        if not self._nnz():
            return dense
        return ops.tensor_scatter_add(dense, ops.transpose(self._idx, (1, 0)), self._vals)

    def t(self):
        if len(self._size) != 2:
            raise RuntimeError(f"t() expects a 2-D sparse tensor, got {len(self._size)}-D")
        return SparseTensor(ops.stack((self._idx[1], self._idx[0])), self._vals, (self._size[1], self._size[0]))

    def _cast(self, dtype):
        return SparseTensor(self._idx, ops.cast(self._vals, dtype), self._size, coalesced=self._coalesced)

    def float(self):
        return self.to(mindspore.float32)

    def double(self):
        return self.to(mindspore.float64)

    def detach(self):
        return SparseTensor(self._idx, ops.stop_gradient(self._vals), self._size, coalesced=self._coalesced)

    def __mul__(self, other):
        if isinstance(other, (int, float)):
            return SparseTensor(self._idx, self._vals * other, self._size, coalesced=self._coalesced)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, (int, float)):
            return SparseTensor(self._idx, self._vals / other, self._size, coalesced=self._coalesced)
        return NotImplemented

    def __matmul__(self, other):
        return sparse_mm(self, other)

    def matmul(self, other):
        """``a.matmul(dense)`` / ``a.mm(dense)``: ``torch.sparse.mm(a, dense)``."""
        return sparse_mm(self, other)

    mm = matmul

    def __repr__(self):
        return f"SparseTensor(size={self._size}, nnz={self._nnz()}, dtype={self.dtype})"


def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """torch.sparse_coo_tensor: the helper's ``SparseTensor`` (coalesced only when torch is told
    so, ``is_coalesced=True``)."""
    if requires_grad:
        raise NotImplementedError("sparse_coo_tensor(requires_grad=True): MindSpore differentiates with respect "
                                  "to a function's inputs; pass the values to value_and_grad instead")
    return SparseTensor(indices, values, size, dtype, coalesced=bool(is_coalesced))


def to_sparse(x, sparseDims=None, layout=None, blocksize=None, dense_dim=None):
    """torch's ``x.to_sparse()``: the helper's coalesced ``SparseTensor`` of ``x``'s nonzero
    elements, indices in row-major order as torch's.  A hybrid tensor (``sparseDims``, torch's
    name, below ``x.ndim``) and the other layouts are not supported."""
    if layout is not None or blocksize is not None or dense_dim is not None:
        raise NotImplementedError("to_sparse(layout=/blocksize=/dense_dim=): the helper builds COO tensors only")
    if sparseDims is not None and sparseDims != x.ndim:
        raise NotImplementedError(f"to_sparse({sparseDims}) of a {x.ndim}-D tensor: hybrid sparse "
                                  "tensors are not supported by the helper")
    array = x.asnumpy()
    where = np.nonzero(array)
    indices = np.stack(where).astype(np.int64) if where else np.zeros((0, 1), np.int64)
    return SparseTensor(indices, mindspore.Tensor(np.ascontiguousarray(array[where])), tuple(x.shape),
                        coalesced=True)


__all__ += ["to_sparse"]


def _legacy_sparse(dtype):
    def build(indices, values, size=None):
        return SparseTensor(indices, values, size, dtype)
    build.__doc__ = f"torch.sparse's legacy constructor of {dtype} values: ``(indices, values, size)``."
    return build


sparse_FloatTensor = _legacy_sparse(mindspore.float32)
sparse_DoubleTensor = _legacy_sparse(mindspore.float64)
sparse_LongTensor = _legacy_sparse(mindspore.int64)
sparse_IntTensor = _legacy_sparse(mindspore.int32)

_SPARSE_DENSE_MATMUL = []  # the primitive, made on first use: MindSpore 2.10 warns it is deprecated when made


def _sparse_dense_matmul():
    if not _SPARSE_DENSE_MATMUL:
        _SPARSE_DENSE_MATMUL.append(ops.SparseTensorDenseMatmul())
    return _SPARSE_DENSE_MATMUL[0]


def sparse_mm(mat1, mat2):
    """torch.sparse.mm / torch.spmm: a 2-D ``SparseTensor`` times a dense matrix, by
    ``ops.SparseTensorDenseMatmul`` (differentiable in the values and the dense matrix); a
    dense first argument is an ordinary product, as torch's."""
    if not isinstance(mat1, SparseTensor):
        return ops.matmul(mat1, mat2)
    if mat1.dim() != 2 or mat2.ndim != 2:
        raise RuntimeError("sparse.mm: expects a 2-D sparse and a 2-D dense matrix")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"sparse.mm: shapes {mat1.shape} and {tuple(mat2.shape)} cannot be multiplied")
    values = mat1._vals if mat1.dtype == mat2.dtype else ops.cast(mat1._vals, mat2.dtype)
    return _sparse_dense_matmul()(ops.transpose(mat1._idx, (1, 0)), values, mat1.shape, mat2)


__all__ += ["SparseTensor", "sparse_coo_tensor", "sparse_FloatTensor", "sparse_DoubleTensor", "sparse_LongTensor",
            "sparse_IntTensor", "sparse_mm"]


def _lengths_array(lengths):
    """``lengths`` (a list, numpy array or Tensor of ints) as a 1-D int64 numpy array."""
    if isinstance(lengths, mindspore.Tensor):
        lengths = lengths.asnumpy()
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


class PackedSequence(_HostObject):
    """torch.nn.utils.rnn.PackedSequence.  It is held as torch pads it: the padded
    ``(T, B, *)`` tensor (batch in the caller's order) and each sequence's length, which is
    what MindSpore's RNN layers take (``seq_length``: outputs past a length are zeros and the
    final state is each sequence's last step, as torch's, measured).  torch's fields are
    computed from that when read: ``data`` (the steps packed time-major, the batch sorted by
    length, longest first), ``batch_sizes`` (sequences still running at each step),
    ``sorted_indices`` and ``unsorted_indices`` (None for a batch packed sorted).  Built from
    torch's fields, ``PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)``,
    it unpacks them again.  Sequences of equal length are ordered as numpy's stable sort
    orders them, which torch's sort does not promise."""

    def __init__(self, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build one with pack_padded_sequence)")
        sizes = _lengths_array(batch_sizes)
        order = (np.arange(int(sizes[0])) if sorted_indices is None
                 else _lengths_array(sorted_indices))
        sorted_lengths = (sizes[None, :] > np.arange(len(order))[:, None]).sum(axis=1)
        lengths = np.empty_like(sorted_lengths)
        lengths[order] = sorted_lengths
        steps, batch = len(sizes), len(order)
        # packed row of (step t, sorted position j): the rows of the steps before t, plus j
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        rows = np.zeros((steps, batch), np.int64)
        valid = np.zeros((steps, batch), bool)
        rows[:, order] = starts[:, None] + np.arange(batch)[None, :]
        valid[:, order] = np.arange(batch)[None, :] < sizes[:, None]
        rows[~valid] = 0
        padded = data[mindspore.Tensor(rows.reshape(-1))].reshape((steps, batch) + tuple(data.shape[1:]))
        mask = mindspore.Tensor(valid.reshape((steps, batch) + (1,) * (data.ndim - 1)))
        self._set(ops.where(mask, padded, ops.zeros_like(padded)), lengths, sorted_indices is not None)

    @classmethod
    def _from_padded(cls, padded, lengths, unsorted):
        """A packed sequence of ``padded`` ``(T, B, *)`` with these lengths (numpy int64)."""
        packed = cls.__new__(cls)
        packed._set(padded, lengths, unsorted)
        return packed

    def _set(self, padded, lengths, unsorted):
        self._padded = padded
        self._lengths = lengths
        self._unsorted = unsorted

    def _order(self):
        return np.argsort(-self._lengths, kind="stable")

    @property
    def data(self):
        order = self._order()
        steps = np.arange(int(self._lengths.max()))[:, None]
        batch = int(self._padded.shape[1])
        rows = (steps * batch + order[None, :])[self._lengths[order][None, :] > steps]  # time-major
        flat = self._padded.reshape((-1,) + tuple(self._padded.shape[2:]))
        return flat[mindspore.Tensor(rows.astype(np.int64))]

    @property
    def batch_sizes(self):
        steps = np.arange(int(self._lengths.max()))
        return mindspore.Tensor((self._lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64))

    @property
    def sorted_indices(self):
        return mindspore.Tensor(self._order()) if self._unsorted else None

    @property
    def unsorted_indices(self):
        return mindspore.Tensor(np.argsort(self._order(), kind="stable")) if self._unsorted else None

    def __iter__(self):
        return iter((self.data, self.batch_sizes, self.sorted_indices, self.unsorted_indices))

    @property
    def dtype(self):
        return self._padded.dtype

    def _cast(self, dtype):
        return PackedSequence._from_padded(ops.cast(self._padded, dtype), self._lengths, self._unsorted)

    def __repr__(self):
        return f"PackedSequence(lengths={self._lengths.tolist()}, padded shape={tuple(self._padded.shape)})"


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """torch.nn.utils.rnn.pack_padded_sequence: a ``PackedSequence`` of ``input`` ((T, B, *),
    (B, T, *) with batch_first) whose sequences have these lengths, checked as torch checks
    them (positive, at most T, decreasing when ``enforce_sorted``)."""
    lengths = _lengths_array(lengths)
    padded = input if not batch_first else ops.swapaxes(input, 0, 1)
    if len(lengths) != padded.shape[1]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                         f"(batch_size={padded.shape[1]})")
    if enforce_sorted and np.any(np.diff(lengths) > 0):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                           "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                           "to sidestep this requirement if you do not need ONNX exportability.")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if lengths.size and lengths.max() > padded.shape[0]:
        raise RuntimeError(f"Expected sequence lengths to be at most {padded.shape[0]}, got {lengths.max()}")
    return PackedSequence._from_padded(padded, lengths, not enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """torch.nn.utils.rnn.pad_packed_sequence: ``(padded, lengths)``, the steps past each length
    set to ``padding_value``, as long as the longest sequence (or ``total_length``), in the
    batch order the sequence was packed from; lengths is an int64 Tensor."""
    lengths = sequence._lengths
    longest = int(lengths.max())
    if total_length is not None:
        if total_length < longest:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence "
                             f"in input, but got total_length={total_length} and max sequence length being {longest}")
        longest = total_length
    padded = sequence._padded
    steps = int(padded.shape[0])
    if steps > longest:
        padded = padded[:longest]
    elif steps < longest:
        padded = ops.cat((padded, ops.zeros((longest - steps,) + tuple(padded.shape[1:]), padded.dtype)), 0)
    valid = np.arange(longest)[:, None] < lengths[None, :]
    mask = mindspore.Tensor(valid.reshape(valid.shape + (1,) * (padded.ndim - 2)))
    padded = ops.where(mask, padded, ops.full_like(padded, padding_value))
    if batch_first:
        padded = ops.swapaxes(padded, 0, 1)
    return padded, mindspore.Tensor(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """torch.nn.utils.rnn.pack_sequence: ``pad_sequence`` then ``pack_padded_sequence``."""
    sequences = list(sequences)
    return pack_padded_sequence(pad_sequence(sequences), [int(s.shape[0]) for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """torch.nn.utils.rnn.unpack_sequence: the list of unpadded sequences, in packing order."""
    padded, lengths = pad_packed_sequence(packed_sequences)
    return [padded[:int(n), i] for i, n in enumerate(lengths.asnumpy())]


def _packed_rnn(rnn, call, x, hx=None):
    """An RNN layer run on a ``PackedSequence``: MindSpore's ``seq_length`` on the padded
    batch; returns ``(PackedSequence, h_n)`` as torch's (the states in the batch's order)."""
    padded = x._padded if not rnn.batch_first else ops.swapaxes(x._padded, 0, 1)
    output, h_n = call(padded, hx, mindspore.Tensor(x._lengths.astype(np.int32)))
    if rnn.batch_first:
        output = ops.swapaxes(output, 0, 1)
    return PackedSequence._from_padded(output, x._lengths, x._unsorted), h_n


__all__ += ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence", "unpack_sequence"]


class ELU(nn.Cell):
    """torch.nn.ELU: ``x`` where ``x > 0``, else ``alpha * expm1(x)``.  MindSpore 2.10's Elu
    kernel rejects any alpha but 1.0 ("alpha must be 1.0f", at the first call)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def construct(self, input):
        return ops.where(input > 0, input, self.alpha * ops.expm1(ops.minimum(input, 0.0)))


class Softplus(nn.Cell):
    """torch.nn.Softplus (``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``)
    through ``ops.softplus``: MindSpore 2.10 has no ``nn.Softplus``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def construct(self, input):
        return ops.softplus(input, self.beta, self.threshold)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch.nn.functional.cosine_similarity: both inputs broadcast, each divided by its own norm
    clamped to at least ``eps``, then the dot product along ``dim``.  ``ops.cosine_similarity``
    clamps the product of the norms instead (0.03 where torch gives 1.0 for two vectors of norm
    1.7e-5, measured)."""
    x1, x2 = x1 + ops.zeros_like(x2), x2 + ops.zeros_like(x1)
    n1 = ops.maximum(_norm_keepdim(x1, 2, dim), eps)  # a zero slice: gradient 0 as in torch, not NaN
    n2 = ops.maximum(_norm_keepdim(x2, 2, dim), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


Final = typing.Final  # torch.jit.Final: TorchScript's constant-attribute annotation is typing.Final in Python


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """torch.nn.functional.scaled_dot_product_attention, written out as torch documents it:
    ``softmax(q k^T * scale + bias) v`` with ``scale = 1 / sqrt(E)`` by default; a boolean mask
    keeps the True places (the others get -inf), a float mask is added, ``is_causal`` keeps the
    lower triangle.  Dropout on the attention weights, as torch, whenever ``dropout_p > 0`` (the
    functional form does not look at a training flag); another random stream than torch's."""
    length, source = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = ops.matmul(query, key.swapaxes(-2, -1)) * scale
    if is_causal:
        keep = ops.ones((length, source), mindspore.bool_).tril()
        scores = scores.masked_fill(ops.logical_not(keep), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == mindspore.bool_:
            scores = scores.masked_fill(ops.logical_not(attn_mask), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = ops.softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = ops.dropout(weights, p=dropout_p)
    return ops.matmul(weights, value)


class CosineSimilarity(nn.Cell):
    """torch.nn.CosineSimilarity through ``cosine_similarity`` above (``mindspore.nn.CosineSimilarity``
    is a metric of another kind)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def construct(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class KLDivLoss(nn.Cell):
    """torch.nn.KLDivLoss through ``kl_div`` below, ``log_target`` included: ``ops.kl_div`` for probabilities (equal to
    torch's, ``reduction='batchmean'`` and zero targets included, measured), ``exp(t) (t - input)``
    for a log-target (MindSpore's KLDivLoss has no ``log_target``)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__()
        _check_reduction("KLDivLoss", reduction, ("mean", "batchmean", "sum", "none"))
        self.reduction = reduction
        self.log_target = log_target

    def construct(self, input, target):
        return kl_div(input, target, self.reduction, self.log_target)


class Upsample(nn.Cell):
    """torch.nn.Upsample through ``ops.interpolate`` with an output size: MindSpore 2.10 rejects
    an int ``scale_factor`` and any ``scale_factor`` for 4-D nearest/bilinear input.  The size is
    torch's, ``floor(input_size * scale_factor)``.  Where that size is not exactly
    ``input_size * scale_factor``, torch maps coordinates with ``1 / scale_factor`` while a size
    maps them with the ratio of the sizes (bilinear differs by 0.71 at scale 1.5, measured), so
    such an input raises unless ``align_corners=True`` or ``recompute_scale_factor=True`` (where
    torch uses the ratio too) or the mode is ``'area'`` (an adaptive average pool to that size in
    both).  ``'bicubic'`` is refused: MindSpore's kernel differs from torch's
    (0.21 off, measured)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give either size or scale_factor")
        if mode == "bicubic":
            raise ValueError("Upsample: MindSpore's bicubic interpolation differs from torch's")
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self._ratio_ok = bool(align_corners) or bool(recompute_scale_factor) or mode == "area"

    def construct(self, input):
        spatial = input.shape[2:]
        if self.size is not None:
            size = _ntuple(self.size, len(spatial))
        else:
            scales = _ntuple(self.scale_factor, len(spatial))
            size = tuple(int(d * s) for d, s in zip(spatial, scales))
            if not self._ratio_ok and any(o != d * s for o, d, s in zip(size, spatial, scales)):
                raise ValueError("Upsample: input_size * scale_factor is not an integer, where torch's "
                                 "coordinates differ from MindSpore's; pass size= or recompute_scale_factor=True")
        return ops.interpolate(input, size=size, mode=self.mode, align_corners=self.align_corners)


class MultiheadAttention(nn.MultiheadAttention):
    """torch.nn.MultiheadAttention on ``mindspore.nn.MultiheadAttention`` (same parameter names and
    shapes, equal results with the same weights, masks and ``batch_first`` as torch's): ``bias``
    is ``has_bias``, ``out_proj.bias`` starts at zero as in torch (MindSpore draws it uniformly),
    ``need_weights=False`` returns ``(output, None)`` as torch does (MindSpore a 1-tuple), and
    ``is_causal`` is accepted as the hint it is in torch (the mask itself must be given)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False):
        super().__init__(embed_dim, num_heads, float(dropout), bool(bias), add_bias_kv, add_zero_attn, kdim, vdim,
                         batch_first)
        if bias:
            self.out_proj.bias.set_data(ops.zeros_like(self.out_proj.bias))

    def construct(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                  average_attn_weights=True, is_causal=False):
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal is a hint that attn_mask is the causal mask; "
                               "pass attn_mask")
        outputs = super().construct(query, key, value, key_padding_mask, need_weights, attn_mask,
                                    average_attn_weights)
        if need_weights:
            return outputs
        return outputs[0], None


class TransformerEncoder(nn.TransformerEncoder):
    """torch.nn.TransformerEncoder on ``mindspore.nn.TransformerEncoder`` (the layer deep-copied
    ``num_layers`` times under ``layers.<i>``, an optional final ``norm``: torch's structure and
    parameter names, but for the layers' own renames, see TransformerEncoderLayer): torch's forward
    names its mask ``mask`` (MindSpore's ``src_mask``) and takes ``is_causal`` as a hint (the mask
    itself must be given); ``enable_nested_tensor``/``mask_check`` only tune torch's fast path."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__(encoder_layer, num_layers, norm)

    def construct(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        if is_causal and mask is None:
            raise RuntimeError("TransformerEncoder: is_causal is a hint that mask is the causal mask; pass mask")
        return super().construct(src, mask, src_key_padding_mask)


__all__ += ["TransformerEncoder"]


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """torch.nn.Transformer.generate_square_subsequent_mask: the (sz, sz) float mask with -inf
    above the diagonal and 0 elsewhere (added to attention scores: position i sees 0..i)."""
    mask = ops.triu(ops.full((sz, sz), float("-inf"), dtype=mindspore.float32), 1)  # compiles inside jit too
    return mask if dtype is None else mask.astype(dtype)


__all__ += ["generate_square_subsequent_mask"]


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


# --------------------------------------------------------------------------
# learning-rate schedulers: torch.optim.lr_scheduler's arithmetic on the optimizers' param_groups


_EPOCH_ARGUMENT = ("scheduler.step(epoch) is deprecated in torch: the learning rate is set from the closed form "
                   "at that epoch where the scheduler has one; call scheduler.step() without an argument instead")


# ---------------------------------------------------------------- elementwise, comparison and reductions
# torch reductions whose MindSpore counterpart differs in a default, a result dtype or a form
# (each measured against torch 2.13 in MindSpore 2.10 on CPU; see
# tests/test_migrate_numeric_elementwise.py).

_INTEGRAL_DTYPES = (mindspore.bool_, mindspore.int8, mindspore.int16, mindspore.int32, mindspore.int64,
                    mindspore.uint8)


def _reduce_dims(dim):
    return tuple(dim) if isinstance(dim, list) else dim


def _reduction_args(dim, correction, unbiased):
    """(axes, ddof) for ``ops.std``/``ops.var`` from torch's std/var arguments: torch's older
    forms pass positionally, ``std(x, dim, unbiased, keepdim)`` putting the bool ``unbiased``
    where ``correction`` is (the same number: False 0, True 1) and ``std(x, unbiased)`` a bool
    where ``dim`` is; the ``unbiased=`` keyword, which torch still accepts though its documented
    signature no longer lists it, is read the same way; no correction is torch's 1."""
    if isinstance(dim, bool):  # std(x, False): the (input, unbiased) form
        dim, correction = None, dim
    if unbiased is not None:
        correction = bool(unbiased)
    if correction is None:
        correction = 1
    return _reduce_dims(dim), int(correction) if isinstance(correction, bool) else correction


def std(input, dim=None, correction=None, keepdim=False, unbiased=None):
    """torch.std / Tensor.std: Bessel-corrected by default (``correction=1``), where ``ops.std``
    and ``Tensor.std`` default to ``ddof=0`` (the method is 0.2 off on a (3, 4, 5) draw,
    measured); torch's older argument forms as ``_reduction_args`` reads them.  ``dim`` None, an
    int, a tuple or a list."""
    return ops.std(input, *_reduction_args(dim, correction, unbiased), keepdim)


def var(input, dim=None, correction=None, keepdim=False, unbiased=None):
    """torch.var / Tensor.var: as ``std`` above (``ops.var`` defaults to ``ddof=0``, torch to 1)."""
    return ops.var(input, *_reduction_args(dim, correction, unbiased), keepdim)


def median(input, dim=None, keepdim=False):
    """torch.median: without ``dim`` the lower median of all elements (a 0-d tensor); with it a
    (values, indices) pair along ``dim`` (a plain tuple: unpack it, ``.values`` does not exist).
    ``ops.median`` without an axis reduces the last axis only and always returns the pair.  Both
    give the lower of the two middle values, torch's index on ties and NaN where a slice has one
    (measured)."""
    if dim is None:
        return ops.median(input.reshape(-1), 0)[0]
    return ops.median(input, dim, keepdim)


def cumsum(input, dim, dtype=None):
    """torch.cumsum / Tensor.cumsum: an integer or bool input sums in int64 unless ``dtype`` is
    given, as torch's (``ops.cumsum`` keeps int32 and rejects bool, measured)."""
    if dtype is None and input.dtype in _INTEGRAL_DTYPES:
        dtype = mindspore.int64
    return ops.cumsum(input, dim, dtype)


def argmin(input, dim=None, keepdim=False):
    """torch.argmin / Tensor.argmin: int64 indices (``ops.argmin`` gives int32), the first
    minimum on ties, as torch; without ``dim`` the flat index, whose ``keepdim=True`` shape is
    all ones (``ops.argmin`` gives a 0-d tensor)."""
    out = ops.cast(ops.argmin(input, dim, keepdim), mindspore.int64)
    if dim is None and keepdim:
        out = out.reshape((1,) * input.ndim)
    return out


def count_nonzero(input, dim=None):
    """torch.count_nonzero: int64 counts over all elements or ``dim`` (an int or a tuple), for
    any dtype (``ops.count_nonzero`` rejects a bool input, measured)."""
    return ops.sum(ops.cast(input != 0, mindspore.int64), _reduce_dims(dim))


def tensor_any(input, dim=None, keepdim=False):
    """torch.any / Tensor.any: whether some element (over all, or along ``dim``: an int or a
    tuple) is nonzero, as bool (torch keeps uint8 for a uint8 input).  ``ops.any`` is right on
    bool tensors only in MindSpore 2.10 on CPU: on int32/int64/float32/float64 ones it answered
    wrongly in 233-327 of ~1100 reductions of random tensors (e.g. False for the row [1, 2, 3, 0];
    measured), so a non-bool input is compared with 0 first.  ``ops.all`` was right on every
    dtype of the same draws."""
    if input.dtype != mindspore.bool_:
        input = input != 0
    return ops.any(input, _reduce_dims(dim), keepdim)


__all__ += ["std", "var", "median", "cumsum", "argmin", "count_nonzero", "tensor_any"]


class LRScheduler:
    """torch.optim.lr_scheduler.LRScheduler over an optimizer of this module (anything with
    ``param_groups``, a list of dicts with an ``"lr"``).

    As torch's: building it records each group's ``initial_lr`` (or, with ``last_epoch`` given,
    requires it) and takes one step (``last_epoch`` -1 -> 0); ``step()`` advances ``last_epoch``
    and writes ``get_lr()`` into every ``group["lr"]``, which the optimizers read at each of
    their steps; ``get_last_lr()`` is the list last written.  The subclasses compute their rates
    with torch's own (recursive) formulas in Python floats, so the sequence is torch's exactly.
    ``state_dict()`` is every attribute but the optimizer.  Not kept: torch's warning when the
    scheduler steps before the optimizer."""

    def __init__(self, optimizer, last_epoch=-1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch} (load the optimizer's state first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._get_lr_called_within_step = False
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        return self._last_lr

    def get_lr(self):
        raise NotImplementedError

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def _warn_outside_step(self):
        if not self._get_lr_called_within_step:
            warnings.warn("get_lr() called outside step(): the rate last set is get_last_lr()", UserWarning,
                          stacklevel=3)

    def step(self, epoch=None):
        self._step_count += 1
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                warnings.warn(_EPOCH_ARGUMENT, UserWarning, stacklevel=2)
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        values = list(values)
        if len(values) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}: {len(values)} learning rates for "
                             f"{len(self.optimizer.param_groups)} parameter groups")
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class LambdaLR(LRScheduler):
    """torch.optim.lr_scheduler.LambdaLR: ``initial_lr * lr_lambda(last_epoch)``, one function
    for every group or one per group.  ``state_dict()`` keeps the ``__dict__`` of callable
    objects and ``None`` for plain functions and lambdas, as torch's does."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)

    def get_lr(self):
        self._warn_outside_step()
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class ReduceLROnPlateau:
    """torch.optim.lr_scheduler.ReduceLROnPlateau over an optimizer of this module: ``step(metric)``
    counts the epochs without improvement (``threshold`` relative or absolute, ``mode`` min or
    max) and, past ``patience`` of them, multiplies every group's ``lr`` by ``factor`` (not
    below its ``min_lr``, and only by more than ``eps``), then waits ``cooldown`` epochs.  The
    rates are Python floats computed as torch computes them, so the sequence is torch's."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise ValueError(f"expected {len(groups)} min_lrs, got {len(min_lr)}")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * len(groups)
        self.factor, self.patience, self.cooldown, self.eps = factor, patience, cooldown, eps
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in groups]

    def is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None):
        current = float(metrics.asnumpy() if isinstance(metrics, mindspore.Tensor) else metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def get_last_lr(self):
        return self._last_lr

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


__all__ += ["ReduceLROnPlateau"]


class StepLR(LRScheduler):
    """torch.optim.lr_scheduler.StepLR: the current rates times ``gamma`` at every non-zero
    multiple of ``step_size``."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """torch.optim.lr_scheduler.MultiStepLR: the current rates times ``gamma`` (to the power of
    the times it is listed) at each milestone."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        passed = bisect.bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """torch.optim.lr_scheduler.ExponentialLR: the current rates times ``gamma`` at every step
    (not at the one taken when the scheduler is built)."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """torch.optim.lr_scheduler.CosineAnnealingLR with torch's recursive update (each rate from
    the current one, so that outside changes carry on, and past ``T_max`` the curve rises
    again), term for term as torch computes it: the closed form
    ``eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2`` is used for ``step(epoch)``
    only."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return self._current_lrs()
        t, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._step_count == 1 and t > 0:
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / t_max)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max)) * (lr - eta_min)
                + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """torch.optim.lr_scheduler.OneCycleLR: the 1cycle policy, per step.  The rate rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of ``total_steps`` and
    falls to ``initial_lr / final_div_factor`` (``three_phase``: back to the initial rate
    first), by cosine or linear annealing; with ``cycle_momentum`` the optimizer's momentum (or
    Adam's first beta) moves the other way between ``max_momentum`` and ``base_momentum``, and is
    set to ``max_momentum`` when the scheduler is built, as torch's does.  Torch's formulas and
    phase boundaries, in Python floats; stepping past ``total_steps`` raises as torch's."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if total_steps is not None:
            if total_steps <= 0 or not isinstance(total_steps, int):
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not 0 <= pct_start <= 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal = self._cos if anneal_strategy == "cos" else self._linear
        total = self.total_steps
        if three_phase:
            self._phases = [
                (float(pct_start * total) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (float(pct_start * total) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        groups = optimizer.param_groups
        max_lrs = self._per_group(max_lr, "max_lr")
        if last_epoch == -1:
            for lr, group in zip(max_lrs, groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in defaults
            for m_momentum, b_momentum, group in zip(self._per_group(max_momentum, "max_momentum"),
                                                     self._per_group(base_momentum, "base_momentum"), groups):
                if last_epoch == -1:
                    self._set_momentum(group, m_momentum)
                group["max_momentum"] = m_momentum
                group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)

    def _per_group(self, value, name):
        groups = self.optimizer.param_groups
        if isinstance(value, (list, tuple)):
            if len(value) != len(groups):
                raise ValueError(f"expected {len(groups)} values for {name}, got {len(value)}")
            return list(value)
        return [value] * len(groups)

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    @staticmethod
    def _cos(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _linear(start, end, pct):
        return (end - start) * pct + start

    def get_lr(self):
        self._warn_outside_step()
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0
            for i, (end, lr_from, lr_to, m_from, m_to) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[lr_from], group[lr_to], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[m_from], group[m_to], pct)
                    break
                start = end
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, momentum)
        return lrs


__all__ += ["OneCycleLR"]


# ---------------------------------------------------------------- more functions
# torch functions whose MindSpore counterpart differs in a default, a form or an edge, written
# with classic mindspore.ops (each measured against torch 2.13 in MindSpore 2.10 on CPU; see
# tests/test_migrate_numeric_functions.py).

_INT_DTYPES = (mindspore.int8, mindspore.int16, mindspore.int32, mindspore.int64, mindspore.uint8)


# ---------------------------------------------------------------- shapes, indexing and creation
# torch functions of the "shapes, indexing and creation" section whose MindSpore counterpart
# lacks a CPU kernel, a form or torch's default (each measured against torch 2.13 in MindSpore
# 2.10 on CPU; see tests/test_migrate_numeric_shapes.py).

__all__ += ["roll", "trace", "nonzero", "take", "unique", "meshgrid", "cross", "cartesian_prod", "searchsorted",
            "bincount", "isin", "equal", "full", "randperm", "normal", "scatter", "scatter_add", "dist"]

_SMALL_INTS = (mindspore.bool_, mindspore.int8, mindspore.int16, mindspore.int32, mindspore.uint8)


def roll(input, shifts, dims=None):
    """torch.roll: ``ops.roll`` has no CPU kernel in MindSpore 2.10 ("The kernel Roll
    unregistered"); each shift is two slices concatenated.  Without ``dims`` the flattened
    tensor is rolled and the shape restored, as torch does."""
    shape = tuple(input.shape)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    out = input
    if dims is None:
        out, dims = input.reshape(-1), (0,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise ValueError(f"roll(): shifts and dims must align, got {len(shifts)} and {len(dims)}")
    for shift, dim in zip(shifts, dims):
        size = out.shape[dim]
        if size == 0:
            continue
        shift = shift % size
        if shift:
            head = ops.narrow(out, dim, size - shift, shift)
            tail = ops.narrow(out, dim, 0, size - shift)
            out = ops.cat((head, tail), dim)
    return out.reshape(shape)


def trace(input):
    """torch.trace: bool and integer inputs sum to int64 in torch; ``ops.trace`` keeps int32
    (measured)."""
    out = ops.trace(input)
    return ops.cast(out, mindspore.int64) if input.dtype in _SMALL_INTS else out


def nonzero(input, as_tuple=False):
    """torch.nonzero / Tensor.nonzero: the int64 (n, ndim) index matrix like ``ops.nonzero``;
    ``as_tuple=True`` (whose NonZeroExt kernel is missing on CPU in 2.10) gives its columns, one
    per dimension (a 0-d input gives one, as torch's)."""
    if input.ndim == 0:  # ops.nonzero rejects a 0-d input
        found = ops.nonzero(input.reshape(1))
        return (found.reshape(-1),) if as_tuple else found[:, :0]
    found = ops.nonzero(input)
    if not as_tuple:
        return found
    return tuple(found[:, i] for i in range(input.ndim))


def take(input, index):
    """torch.take: ``input`` read as 1-D at ``index`` (negative indices count from the end), in
    ``index``'s shape (MindSpore 2.10 has no CPU kernel for Take)."""
    flat = input.reshape(-1)
    index = ops.where(index < 0, index + flat.shape[0], index)
    return ops.gather(flat, index.reshape(-1), 0).reshape(tuple(index.shape))


def _unique_flat(values, return_inverse, return_counts):
    order = ops.argsort(values)
    ordered = ops.gather(values, order, 0)
    out, inverse_sorted, counts = ops.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    inverse = None
    if return_inverse:
        inverse = ops.tensor_scatter_elements(ops.zeros_like(inverse_sorted), ops.cast(order, mindspore.int64),
                                              inverse_sorted, 0)
    return out, inverse, counts


def _unique_dim(input, dim, return_inverse, return_counts):
    """Unique slices along ``dim`` in lexicographic order, by pairwise comparisons of the
    slices (n^2 memory in their number)."""
    moved = ops.moveaxis(input, dim, 0)
    n = moved.shape[0]
    rows = moved.reshape(n, -1)
    differ = rows.expand_dims(1) != rows.expand_dims(0)  # (n, n, k)
    first = ops.argmax(ops.cast(differ, mindspore.int32), dim=-1)  # first differing column
    a = ops.gather_elements(rows, 1, first)  # rows[i, first[i, j]]
    b = ops.gather_elements(rows, 1, first.T).T  # rows[j, first[i, j]]
    any_diff = differ.any(-1)
    less = ops.logical_and(any_diff, a < b)  # row i < row j
    earlier = ops.tril(ops.ones((n, n), mindspore.bool_), -1)  # j < i
    is_first = ops.logical_not(ops.logical_and(ops.logical_not(any_diff), earlier).any(1))
    rank = ops.cast(ops.logical_and(less.T, is_first.expand_dims(0)), mindspore.int64).sum(1)  # distinct rows smaller than row i
    rank = ops.cast(rank, mindspore.int64)
    keep = ops.nonzero(is_first).reshape(-1)
    kept_rank = ops.gather(rank, keep, 0)
    picked = ops.gather(moved, ops.gather(keep, ops.argsort(kept_rank), 0), 0)
    out = ops.moveaxis(picked, 0, dim)
    counts = ops.unsorted_segment_sum(ops.ones((n,), mindspore.int64), rank, keep.shape[0]) if return_counts else None
    return out, rank, counts


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """torch.unique: the distinct values in ascending order (torch's order whatever ``sorted``
    says, measured on CPU), with the int64 inverse indices in ``input``'s shape and the counts
    when asked.  ``ops.unique`` returns values in order of appearance and always the inverse;
    this sorts and runs ``ops.unique_consecutive``.  With ``dim``, unique slices in
    lexicographic order, as torch."""
    if dim is None:
        out, inverse, counts = _unique_flat(input.reshape(-1), return_inverse, return_counts)
        if inverse is not None:
            inverse = inverse.reshape(tuple(input.shape))
    else:
        out, inverse, counts = _unique_dim(input, dim, return_inverse, return_counts)
    result = (out,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return result[0] if len(result) == 1 else result


def _spread(values):
    """``values`` as torch takes them, spread as arguments or as one sequence
    (``x.repeat(2, 1)`` or ``x.repeat((2, 1))``): a tuple of them.  Compiles inside mindspore.jit."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        return tuple(values[0])
    return tuple(values)


def meshgrid(*tensors, indexing=None):
    """torch.meshgrid: ``indexing='ij'`` by default (torch's, with a warning that asks for the
    argument; ``ops.meshgrid`` defaults to 'xy') and the tensors given one by one or as one
    list (which ``ops.meshgrid`` rejects)."""
    return ops.meshgrid(*_spread(tensors), indexing="ij" if indexing is None else indexing)


def cross(input, other, dim=None):
    """torch.cross: the operands broadcast first (``ops.cross`` gives wrong values for
    broadcast operands in 2.10, measured), and without ``dim`` the first dimension of size 3, as
    torch (which warns that its default will become -1)."""
    shape = _broadcast_shape(tuple(input.shape), tuple(other.shape))
    input, other = ops.broadcast_to(input, shape), ops.broadcast_to(other, shape)
    if dim is None:
        for i, n in enumerate(shape):
            if n == 3:
                dim = i
                break
        if dim is None:
            raise RuntimeError(f"cross(): no dimension of size 3 in input {shape}")
    return ops.cross(input, other, dim=dim)


def _broadcast_shape(a, b):
    ndim = max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + a, (1,) * (ndim - len(b)) + b
    return tuple(x if y == 1 else y for x, y in zip(a, b))


def cartesian_prod(*tensors):
    """torch.cartesian_prod: a single tensor comes back unchanged (1-D), where
    ``ops.cartesian_prod`` makes it a column."""
    if len(tensors) == 1:
        return tensors[0]
    return ops.cartesian_prod(*tensors)


def searchsorted(sorted_sequence, values, out_int32=False, right=False, side=None, sorter=None):
    """torch.searchsorted: int64 indices (int32 with ``out_int32``, whose MindSpore kernel
    fails in 2.10 and is a cast here), a Python number as ``values`` (a 0-d result), and a
    ``sorter`` (the CPU kernel rejects one; the sequence is gathered in that order, as torch's
    indices refer to the sorted order)."""
    scalar = not isinstance(values, mindspore.Tensor)
    if scalar:
        values = mindspore.Tensor(values, sorted_sequence.dtype).reshape(1)
    if sorter is not None:  # the CPU kernel takes no sorter: read the sequence in sorted order
        sorted_sequence = ops.gather_elements(sorted_sequence, sorted_sequence.ndim - 1,
                                              ops.cast(sorter, mindspore.int64))
    out = ops.searchsorted(sorted_sequence, values, right=right, side=side)
    if scalar:
        out = out.reshape(())
    return ops.cast(out, mindspore.int32) if out_int32 else out


def bincount(input, weights=None, minlength=0):
    """torch.bincount: int64 counts, or sums of ``weights`` in their dtype (``ops.bincount``
    returns float32 either way, float64 weights summed in float32; measured), ``max(input) + 1``
    bins but at least ``minlength`` (the size read from the data, as torch does; it does not
    compile inside mindspore.jit)."""
    size = minlength if input.shape[0] == 0 else max(int(input.max()) + 1, minlength)
    if weights is None:
        weights = ops.ones(tuple(input.shape), mindspore.int64)
    elif weights.dtype not in _FLOATS:
        weights = ops.cast(weights, mindspore.float64)
    if size == 0 or input.shape[0] == 0:
        return ops.zeros((size,), weights.dtype)  # (the segment-sum kernel refuses an empty input)
    return ops.unsorted_segment_sum(weights, ops.cast(input, mindspore.int64), size)  # see scatter_add


def isin(elements, test_elements, assume_unique=False, invert=False):
    """torch.isin (MindSpore 2.10 has no ops.isin): whether each element is among
    ``test_elements`` (a tensor or a number), by comparing against all of them."""
    if not isinstance(elements, mindspore.Tensor):
        elements = mindspore.Tensor(elements)
    if not isinstance(test_elements, mindspore.Tensor):
        test_elements = mindspore.Tensor(test_elements)
    found = (elements.expand_dims(-1) == test_elements.reshape(-1)).any(-1)
    return ops.logical_not(found) if invert else found


def equal(input, other):
    """torch.equal: True when both have the same shape and the same elements (a Python bool;
    ``ops.equal`` compares element-wise)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input == other).all())


def full(size, fill_value, dtype=None):
    """torch.full: without ``dtype`` the fill value's type decides, as in torch: bool, int64
    for an int, the default float32 for a float (``ops.full`` gives int64 for 1.5, measured)."""
    if dtype is None:
        if isinstance(fill_value, mindspore.Tensor):
            dtype = fill_value.dtype
        elif isinstance(fill_value, bool):
            dtype = mindspore.bool_
        elif isinstance(fill_value, int):
            dtype = mindspore.int64
        elif isinstance(fill_value, complex):
            dtype = mindspore.complex64
        else:
            dtype = mindspore.float32
    if isinstance(size, int):
        size = (size,)
    return ops.full(tuple(size), fill_value, dtype=dtype)


def randperm(n, dtype=None):
    """torch.randperm: a random permutation of 0..n-1, int64 unless ``dtype`` says otherwise.
    ``ops.randperm`` returns the SAME permutation on every call (its seed defaults to 0;
    mindspore.set_seed does not change it, measured), so this ranks n uniform draws, which
    follow mindspore.set_seed.  Another random stream than torch's."""
    out = ops.argsort(ops.rand(n))
    return ops.cast(out, mindspore.int64 if dtype is None else dtype)


def normal(mean=0.0, std=1.0, size=None, dtype=None):
    """torch.normal in its forms: tensor mean and/or std (the broadcast shape, their dtype)
    or float mean and std with a ``size`` (float32 unless ``dtype``).  ``ops.normal`` wants the
    shape first.  Same distribution, another random stream than torch's."""
    tensors = [t for t in (mean, std) if isinstance(t, mindspore.Tensor)]
    if size is not None:
        shape = (size,) if isinstance(size, int) else tuple(size)
        dtype = mindspore.float32 if dtype is None else dtype
    elif tensors:
        shape = tuple(tensors[0].shape) if len(tensors) == 1 else _broadcast_shape(tuple(mean.shape), tuple(std.shape))
        dtype = tensors[0].dtype if dtype is None else dtype
    else:
        raise TypeError("normal() with float mean and std needs a size")
    return ops.randn(shape, dtype=dtype) * std + mean


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """torch.scatter (not in place): ``src`` (or the number ``value``) written into a copy of
    ``input`` at ``index`` along ``dim``; ``src`` may be larger than ``index`` (its leading
    block is read), which ``ops.scatter`` rejects.  Repeated positions: undefined in both."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) / scatter_(reduce=...) is not provided by _torch_compat")
    if src is None:
        src = value
    if isinstance(src, mindspore.Tensor):
        updates = ops.cast(_index_shaped(src, index), input.dtype)
    else:
        updates = ops.full(tuple(index.shape), src, dtype=input.dtype)
    return ops.tensor_scatter_elements(input, index, updates, dim)


def scatter_add(input, dim, index, src):
    """torch.scatter_add (not in place): repeated positions accumulate (``ops.scatter_add``
    is another operation: rows of a Parameter at indices).  The sums are
    ``ops.unsorted_segment_sum`` over each element's flat position in ``input``, not
    ``ops.tensor_scatter_elements(..., "add")``: on MindSpore 2.10's CPU a compiled
    value_and_grad of two message-passing layers (``m = (h @ W)[src]``, ``agg =
    tensor_scatter_elements(zeros_like(h), dst, m, 0, "add")``, ``h = relu((h + agg) @ W2)``, 30
    edges into 10 nodes) gave gradients off by up to 1e-1 in 51 of 200 calls, where the
    segment sum gave the same gradients in every call (measured)."""
    updates = ops.cast(_index_shaped(src, index), input.dtype)
    shape = tuple(input.shape)
    if not shape:
        return ops.tensor_scatter_elements(input.reshape(1), index.reshape(1), updates.reshape(1), 0, "add").reshape(())
    if index.size == 0:
        return input + 0  # nothing to add (a new tensor, as torch's; the segment-sum kernel refuses an empty input)
    axis = dim % len(shape)
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    linear = ops.cast(index, mindspore.int64) * strides[axis]
    for k in range(len(shape)):
        if k != axis and index.shape[k] > 1:
            view = [1] * len(shape)
            view[k] = index.shape[k]
            linear = linear + (arange(index.shape[k]) * strides[k]).reshape(tuple(view))
    sums = ops.unsorted_segment_sum(updates.reshape(-1), linear.reshape(-1), input.size)
    return input + sums.reshape(shape)



def dist(input, other, p=2):
    """torch.dist: the p-norm of ``input - other`` (broadcast) flattened; ``ops.dist`` rejects
    a float ``p`` such as inf (its LpNorm wants an int)."""
    return norm(input - other, float(p))


def randint(low=None, high=None, size=None, dtype=None):
    """torch.randint in both forms, ``randint(high, size)`` and ``randint(low, high, size)``
    (keywords too): int64 unless ``dtype`` says otherwise, like torch.  ``ops.randint`` wants
    all three, a tuple size and an integer dtype; a floating ``dtype`` casts the integers as
    torch returns them.  Another random stream than torch's."""
    if size is None:  # randint(high, size): the second positional argument is the size
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    elif low is None:  # randint(high=..., size=...)
        low = 0
    draw_dtype = dtype if dtype in _INT_DTYPES else mindspore.int64
    out = ops.randint(low, high, tuple(size), dtype=draw_dtype)
    return out if dtype is None or dtype == draw_dtype else ops.cast(out, dtype)


def linspace(start, end, steps, dtype=None):
    """torch.linspace: float32 by default as ``ops.linspace``, which has no ``dtype``; float64
    is computed from float64 ends (``ops.linspace`` then works in float64), other dtypes are
    cast from the float64 values (integers truncated, as torch's)."""
    if dtype is None or dtype == mindspore.float32:
        return ops.linspace(start, end, steps)
    values = ops.linspace(mindspore.Tensor(start, mindspore.float64), mindspore.Tensor(end, mindspore.float64), steps)
    return values if dtype == mindspore.float64 else ops.cast(values, dtype)


def diag(input, diagonal=0):
    """torch.diag: a 1-D input becomes the matrix with it on diagonal ``diagonal``, a 2-D input
    gives that diagonal.  ``ops.diag`` has no offset and makes a 4-D tensor from a matrix."""
    if input.ndim == 1:
        return ops.diag_embed(input, offset=diagonal)
    if input.ndim != 2:
        raise ValueError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return ops.diagonal(input, offset=diagonal)


def bernoulli(input, p=None):
    """torch.bernoulli: 1 with probability ``input`` (each element its own), or with the float
    ``p`` when given; ``input``'s shape and dtype.  ``ops.bernoulli`` takes the probability as
    its second argument (default 0.5, whatever the input holds).  Another random stream."""
    return ops.bernoulli(input, input if p is None else p)


def one_hot(tensor, num_classes=-1):
    """torch.nn.functional.one_hot: int64, with ``num_classes=-1`` meaning the largest class
    plus one (read from the data, as torch does; measured to run inside mindspore.jit too, a
    new output shape each time).  ``ops.one_hot`` needs the depth.  torch raises on a class
    outside [0, num_classes); ``ops.one_hot`` gives an all-zero row."""
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1
    return ops.one_hot(tensor, num_classes)


def _norm_keepdim(x, p, dim):
    """torch.linalg.vector_norm(x, p, dim, keepdim=True) whose gradient at an all-zero slice is
    0 (as torch's), not the NaN a plain ``sqrt`` of 0 gives."""
    if p == float("inf"):
        return ops.amax(ops.abs(x), dim, True)
    if p == float("-inf"):
        return ops.amin(ops.abs(x), dim, True)
    if p == 0:
        return ops.cast(x != 0, x.dtype).sum(dim, keepdim=True)
    if p == 1:
        return ops.abs(x).sum(dim, keepdim=True)
    powered = x * x if p == 2 else ops.abs(x) ** p
    total = powered.sum(dim, keepdim=True)
    positive = total > 0
    safe = ops.where(positive, total, ops.ones_like(total))
    root = ops.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return ops.where(positive, root, ops.zeros_like(total))


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """torch.nn.functional.normalize: ``input / max(||input||_p, eps)`` along ``dim`` (MindSpore
    has no functional normalize; ``ops.L2Normalize`` is p=2 only and puts eps under the root)."""
    return input / ops.clamp(_norm_keepdim(input, p, dim), min=eps)


def _einsum_terms(equation, ndims):
    """Parse ``equation`` into one list of labels per operand and the output labels; ``...``
    becomes labels of its own (right-aligned across operands, as torch broadcasts them)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum(): {len(terms)} operands in the equation, {len(ndims)} given")
    ellipsis_rank = 0
    for term, ndim in zip(terms, ndims):
        if "..." in term:
            ellipsis_rank = max(ellipsis_rank, ndim - (len(term) - 3))
    extra = [chr(0x3B1 + i) for i in range(ellipsis_rank)]  # labels no equation uses
    inputs = []
    for term, ndim in zip(terms, ndims):
        if "..." in term:
            head, _, tail = term.partition("...")
            labels = list(head) + extra[ellipsis_rank - (ndim - len(head) - len(tail)):] + list(tail)
        else:
            labels = list(term)
        if len(labels) != ndim:
            raise ValueError(f"einsum(): the subscripts {term!r} do not match an operand of {ndim} dimensions")
        inputs.append(labels)
    if arrow:
        head, _, tail = rhs.partition("...")
        output = list(head) + (extra if "..." in rhs else []) + list(tail)
    else:
        seen = []
        for labels in inputs:
            seen = seen + labels
        output = extra + sorted(l for l in seen if seen.count(l) == 1 and l not in extra)
    return inputs, output


def _einsum_diagonal(x, labels):
    """Repeated labels of one operand (``ii``): keep the diagonal, once."""
    while len(labels) != len(dict.fromkeys(labels)):
        label = [l for l in labels if labels.count(l) > 1][0]
        first = labels.index(label)
        second = labels.index(label, first + 1)
        x = ops.diagonal(x, 0, first, second)  # the diagonal becomes the last axis
        labels = [l for i, l in enumerate(labels) if i != first and i != second] + [label]
    return x, labels


def _einsum_sum(x, labels, keep):
    """Sum out the labels ``keep`` does not list."""
    axes = tuple(i for i, l in enumerate(labels) if l not in keep)
    if axes:
        x = x.sum(axes)
        labels = [l for l in labels if l in keep]
    return x, labels


def _einsum_arrange(x, labels, order, sizes, broadcast):
    """``x`` with its axes in ``order``, the labels in ``broadcast`` expanded to ``sizes``."""
    x = ops.broadcast_to(x, tuple(sizes[l] if l in broadcast else n for l, n in zip(labels, x.shape)))
    perm = tuple(labels.index(l) for l in order)
    return ops.transpose(x, perm) if perm != tuple(range(len(perm))) else x


def _einsum_numel(labels, sizes):
    n = 1
    for label in labels:
        n *= sizes[label]
    return n


def _einsum_pair(a, la, b, lb, keep):
    """Contract two operands over their shared labels that ``keep`` does not list, as one
    batched matrix product: (batch, a-only, shared) @ (batch, shared, b-only)."""
    sizes = {}
    for label, n in zip(la, a.shape):
        sizes[label] = n
    for label, n in zip(lb, b.shape):
        sizes[label] = max(sizes[label], n) if label in sizes else n
    batch = [l for l in la if l in lb and l in keep]
    shared = [l for l in la if l in lb and l not in keep]
    a_only = [l for l in la if l not in lb]
    b_only = [l for l in lb if l not in la]
    both = batch + shared
    a = _einsum_arrange(a, la, batch + a_only + shared, sizes, both)
    b = _einsum_arrange(b, lb, batch + shared + b_only, sizes, both)
    a = a.reshape(_einsum_numel(batch, sizes), _einsum_numel(a_only, sizes), _einsum_numel(shared, sizes))
    b = b.reshape(_einsum_numel(batch, sizes), _einsum_numel(shared, sizes), _einsum_numel(b_only, sizes))
    out = ops.bmm(a, b).reshape(tuple(sizes[l] for l in batch + a_only + b_only))
    return out, batch + a_only + b_only


def einsum(equation, *operands):
    """torch.einsum: ``ops.einsum`` has no CPU kernel in MindSpore 2.10 (mint.einsum is Ascend
    only).  Operands are contracted left to right, each pair as one batched matrix product
    (``ops.bmm``) over the labels no later operand nor the output needs; labels only one
    operand has are summed first, repeated labels take the diagonal, ``...`` broadcasts as in
    torch, and without ``->`` the output is ``...`` then the labels seen once, sorted.  The
    list form ``einsum(eq, [a, b])`` is accepted too.  Compiles inside mindspore.jit."""
    operands = _spread(operands)
    inputs, output = _einsum_terms(equation, [op.ndim for op in operands])
    xs, ls = [], []
    for x, labels in zip(operands, inputs):
        x, labels = _einsum_diagonal(x, labels)
        xs.append(x)
        ls.append(labels)
    for i in range(len(xs)):
        elsewhere = list(output)
        for j in range(len(ls)):
            if j != i:
                elsewhere = elsewhere + ls[j]
        xs[i], ls[i] = _einsum_sum(xs[i], ls[i], elsewhere)
    result, labels = xs[0], ls[0]
    for k in range(1, len(xs)):
        keep = list(output)
        for later in ls[k + 1:]:
            keep = keep + later
        result, labels = _einsum_sum(result, labels, keep + ls[k])
        result, labels = _einsum_pair(result, labels, xs[k], ls[k], keep)
    result, labels = _einsum_sum(result, labels, output)
    missing = [l for l in output if l not in labels]
    if missing:
        raise ValueError(f"einsum(): output subscript {missing[0]!r} does not appear in the inputs")
    perm = tuple(labels.index(l) for l in output)
    return ops.transpose(result, perm) if perm != tuple(range(len(perm))) else result


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d: ``stride`` defaults to ``kernel_size`` (``ops.avg_pool2d``
    defaults to 1), ``divisor_override=None`` is its 0, and a 3-D (unbatched) input is
    accepted as torch does.  Values equal torch's (measured, padding and ceil_mode included)."""
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel_size
    unbatched = input.ndim == 3
    if unbatched:
        input = input.expand_dims(0)
    out = ops.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                         0 if divisor_override is None else divisor_override)
    return out.squeeze(0) if unbatched else out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d: torch's ``padding`` (an int, a pair, 'valid' or 'same') is
    MindSpore's ``pad_mode`` plus ``padding`` (``ops.conv2d`` rejects a nonzero padding unless
    pad_mode='pad'), and a 3-D (unbatched) input is accepted as torch does."""
    if isinstance(padding, str):
        pad_mode, padding = padding, 0
        strides = (stride,) if isinstance(stride, int) else tuple(stride)
        if pad_mode == "same" and any(s != 1 for s in strides):
            raise ValueError("padding='same' is not supported for strided convolutions")
    else:
        pad_mode = "pad"
    unbatched = input.ndim == 3
    if unbatched:
        input = input.expand_dims(0)
    out = ops.conv2d(input, weight, bias, stride, pad_mode, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d (MindSpore 2.10's ``ops.conv_transpose2d`` has no CPU
    kernel): the ``Conv2DTranspose`` primitive ``ConvTranspose2d`` runs, asked for the output
    size torch computes (``output_padding`` included, as that helper does); ``weight`` is
    torch's ``(in, out / groups, kh, kw)``, a 3-D (unbatched) input is accepted."""
    unbatched = input.ndim == 3
    if unbatched:
        input = input.expand_dims(0)
    stride, padding, output_padding, dilation = (_ntuple(v, 2) for v in (stride, padding, output_padding, dilation))
    in_channels, per_group, kh, kw = weight.shape
    n, _, h, w = input.shape
    out_h, out_w = _transposed_size((h, w), (kh, kw), stride, padding, dilation, output_padding)
    op = ops.Conv2DTranspose(out_channel=in_channels, kernel_size=(kh, kw), mode=1, pad_mode="pad",
                             pad=(padding[0], padding[0], padding[1], padding[1]), stride=stride,
                             dilation=dilation, group=groups)
    out = op(input, weight, (n, per_group * groups, out_h, out_w))
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


__all__ += ["conv_transpose2d"]


_INTERPOLATE_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "trilinear": 3}


def _source_scale(in_size, out_size, scale, align_corners):
    """torch's ratio from output to input coordinates, in float32 as torch's CPU kernels."""
    if align_corners:
        return np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(in_size) / np.float32(out_size)


def _resize_axis(x, axis, out_size, scale, mode, align_corners):
    """One spatial axis of torch's interpolate: a gather (nearest) or the weighted sum of two
    gathers (linear), with indices and weights computed as torch's CPU kernels do."""
    in_size = x.shape[axis]
    ratio = _source_scale(in_size, out_size, scale, align_corners and mode not in ("nearest", "nearest-exact"))
    dst = np.arange(out_size, dtype=np.float32)
    if mode == "nearest":
        if out_size == in_size:
            index = np.arange(out_size)
        elif out_size == 2 * in_size:
            index = np.arange(out_size) // 2
        else:
            index = np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)
        return ops.gather(x, mindspore.Tensor(index.astype(np.int32)), axis)
    if mode == "nearest-exact":
        index = np.minimum(np.floor((dst + np.float32(0.5)) * ratio).astype(np.int64), in_size - 1)
        return ops.gather(x, mindspore.Tensor(index.astype(np.int32)), axis)
    if align_corners:
        real = ratio * dst
    else:
        real = np.maximum(ratio * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    low = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    lam = np.clip(real - low.astype(np.float32), 0, 1).astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = out_size
    w_high = mindspore.Tensor(lam.reshape(shape)).astype(x.dtype)
    w_low = mindspore.Tensor((np.float32(1) - lam).reshape(shape)).astype(x.dtype)
    return (w_low * ops.gather(x, mindspore.Tensor(low.astype(np.int32)), axis)
            + w_high * ops.gather(x, mindspore.Tensor(high.astype(np.int32)), axis))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for modes nearest, nearest-exact, linear (3-D input),
    bilinear (4-D) and trilinear (5-D), with torch's coordinates: with ``scale_factor`` (and no
    ``recompute_scale_factor``) torch maps output to input coordinates by 1/scale_factor, not
    by the size ratio.  ``ops.interpolate`` rejects a ``scale_factor`` without
    recompute_scale_factor=True (and integer ones).  Each spatial axis is resized by gathers
    with torch's indices and weights (separable, as torch's kernels are): nearest equal to
    torch's, linear modes within 2e-6 (measured).  bicubic and area are not provided."""
    if mode not in _INTERPOLATE_MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not provided by _torch_compat")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not provided by _torch_compat")
    spatial = input.ndim - 2
    if _INTERPOLATE_MODES[mode] is not None and _INTERPOLATE_MODES[mode] != spatial:
        raise NotImplementedError(f"interpolate: mode {mode!r} takes a {_INTERPOLATE_MODES[mode] + 2}-D input, "
                                  f"got {input.ndim}-D")
    if align_corners is not None and mode in ("nearest", "nearest-exact"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        if scale_factor is not None:
            raise ValueError("only one of size or scale_factor should be defined")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * spatial
        scales = (None,) * spatial
    elif scale_factor is not None:
        factors = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * spatial
        sizes = tuple(int(math.floor(n * float(f))) for n, f in zip(in_sizes, factors))
        scales = (None,) * spatial if recompute_scale_factor else tuple(float(f) for f in factors)
    else:
        raise ValueError("either size or scale_factor should be defined")
    out = input
    for k in range(spatial):
        out = _resize_axis(out, 2 + k, int(sizes[k]), scales[k], mode, bool(align_corners))
    return out


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """torch.nn.utils.rnn.pad_sequence: stack tensors of lengths L_i (same trailing dims) into
    (max L, B, *) -- (B, max L, *) with batch_first -- filled with ``padding_value`` (cast to the
    tensors' dtype) after each sequence, or before it with padding_side='left'."""
    sequences = list(sequences)
    longest = max(int(s.shape[0]) for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - int(s.shape[0])
        if missing:
            filler = ops.full((missing,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            s = ops.cat((s, filler) if padding_side == "right" else (filler, s), 0)
        rows.append(s)
    out = ops.stack(rows, 0)
    return out if batch_first else ops.swapaxes(out, 0, 1)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``ops.pad`` takes torch's pad order (last dimension first) and
    modes, but negative pads (torch crops) are right on the first call only: from the second
    call on, in PyNative and inside mindspore.jit, MindSpore 2.10 returned wrong values in 5 of
    6 trials (measured).  Negative pads are therefore done by ``ops.slice`` (which, unlike
    indexing with slices, keeps the dtype known inside mindspore.jit), the rest by ops.pad."""
    pads = tuple(pad)
    if any(p < 0 for p in pads):
        shape = tuple(input.shape)
        begin = [0] * len(shape)
        size = list(shape)
        for i in range(len(pads) // 2):
            axis = len(shape) - 1 - i
            before, after = pads[2 * i], pads[2 * i + 1]
            if before < 0:
                begin[axis] = -before
                size[axis] += before
            if after < 0:
                size[axis] += after
        input = ops.slice(input, tuple(begin), tuple(size))
        pads = tuple(max(p, 0) for p in pads)
    return ops.pad(input, pads, mode, value)


# ---------------------------------------------------------------- more tensor methods
# In-place methods without a CPU kernel in MindSpore 2.10 (Tensor.scatter_/scatter_add_/
# index_add_ raise "kernel ... unregistered", measured): the new values are computed out of
# place and written into the receiver's own storage with ``assign_data``; the receiver is
# returned, as torch returns self.


def _index_shaped(src, index):
    """The part of ``src`` that torch's scatter reads: its leading ``index.shape`` block."""
    if tuple(src.shape) == tuple(index.shape):
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


def scatter_(input, dim, index, src=None, value=None, reduce=None):
    """torch.Tensor.scatter_(dim, index, src or value): in place.  Where ``index`` repeats a
    position the value written is undefined in torch and here."""
    return assign_data(input, scatter(input, dim, index, src, value, reduce))


def scatter_add_(input, dim, index, src):
    """torch.Tensor.scatter_add_(dim, index, src): in place; repeated positions accumulate."""
    return assign_data(input, scatter_add(input, dim, index, src))


def index_add(input, dim, index, source, alpha=1):
    """torch.index_add / Tensor.index_add(dim, index, source, alpha=1): a new tensor,
    ``input[..., index[i], ...] + alpha * source[..., i, ...]`` along ``dim``; repeated indices
    accumulate.  (``ops.index_add`` wants int32 indices and itself overwrites its first
    argument; the sums are ``ops.unsorted_segment_sum``'s, see ``scatter_add``.)"""
    if source.ndim == 0:
        source = source.reshape(1)
    target = input if input.ndim else input.reshape(1)
    axis = dim % target.ndim
    if alpha != 1:
        source = source * alpha
    if source.size == 0:
        return input + 0  # nothing to add (a new tensor; the segment-sum kernel refuses an empty input)
    moved = ops.moveaxis(ops.cast(source, input.dtype), axis, 0)  # the summed axis first
    sums = ops.unsorted_segment_sum(moved, ops.cast(index, mindspore.int64).reshape(-1), target.shape[axis])
    return (target + ops.moveaxis(sums, 0, axis)).reshape(tuple(input.shape))


def index_add_(input, dim, index, source, alpha=1):
    """torch.Tensor.index_add_(dim, index, source, alpha=1): ``index_add`` written into
    ``input``, in place."""
    return assign_data(input, index_add(input, dim, index, source, alpha))


def _untyped_in_place(name, helper):
    """``x.<name>(...)`` where the tool could not type ``x``: ``untyped_method``'s dispatch, a
    MindSpore tensor written in place by ``helper``, any other object's own method."""
    def run(x, *args, **kwargs):
        return untyped_method(x, name, helper, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"{name}of"
    run.__doc__ = f"torch's ``x.{name}(...)`` on something the tool could not type: a MindSpore tensor through ``{helper.__name__}``, in place; any other object's own method."
    return run


scatter_of = _untyped_in_place("scatter_", scatter_)
scatter_add_of = _untyped_in_place("scatter_add_", scatter_add_)
index_add_of = _untyped_in_place("index_add_", index_add_)
__all__ += ["scatter_of", "scatter_add_of", "index_add_of"]


def new_full(input, size, fill_value, dtype=None):
    """torch.Tensor.new_full: ``input``'s dtype unless ``dtype`` is given (Tensor.new_full is
    Ascend-only in MindSpore 2.10)."""
    return ops.full(tuple(size), fill_value, dtype=input.dtype if dtype is None else dtype)


def new_tensor(input, data, dtype=None):
    """torch.Tensor.new_tensor: a new tensor (a copy, cut from any graph) of ``input``'s dtype
    unless ``dtype`` is given, whatever the data's own type (MindSpore's Tensor has no
    new_tensor)."""
    dtype = input.dtype if dtype is None else dtype
    if isinstance(data, mindspore.Tensor):
        return ops.stop_gradient(ops.cast(data, dtype)).copy()
    return mindspore.Tensor(np.asarray(data), dtype=dtype)


# ---------------------------------------------------------------- torch.nn.init
# Each writes a new value into the parameter's own storage (``assign_data``; a construct
# compiled with mindspore.jit keeps reading that storage) and returns it, as torch's in-place
# initializers do.  Distribution parameters are torch's (fans and gains computed as
# torch.nn.init computes them); draws come from MindSpore's random stream (mindspore.set_seed),
# so the numbers differ from torch's for the same seed.


def _fan_in_and_fan_out(tensor):
    """torch's fans: dim 1 times the receptive field (the product of dims 2...) is fan_in,
    dim 0 times it fan_out -- a Dense/Linear weight is (out, in) in both frameworks."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for n in shape[2:]:
        receptive *= n
    return shape[1] * receptive, shape[0] * receptive


def _correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                 "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """torch.nn.init.calculate_gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, 0.01 when None), 3/4 for selu."""
    if nonlinearity in _LINEAR_GAINS:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0):
    """torch.nn.init.uniform_: U(a, b) in the tensor's dtype, in place."""
    return assign_data(tensor, a + (b - a) * ops.rand_like(tensor, dtype=tensor.dtype))


def normal_(tensor, mean=0.0, std=1.0):
    """torch.nn.init.normal_: N(mean, std^2) in the tensor's dtype, in place (ops.randn_like
    alone gives float32 for a float64 tensor)."""
    return assign_data(tensor, mean + std * ops.randn_like(tensor, dtype=tensor.dtype))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """torch.nn.init.trunc_normal_: N(mean, std^2) truncated to [a, b] (absolute bounds, not in
    units of std, as torch), in the tensor's dtype, in place; drawn as torch does, by the inverse
    CDF of a uniform draw between the bounds' CDF values.  Another random stream than torch's."""
    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    low, high = cdf((a - mean) / std), cdf((b - mean) / std)
    draw = (2 * low - 1) + (2 * high - 2 * low) * ops.rand_like(tensor, dtype=tensor.dtype)
    value = ops.erfinv(draw) * (std * math.sqrt(2.0)) + mean
    return assign_data(tensor, ops.clamp(value, a, b))


def zeros_(tensor):
    """torch.nn.init.zeros_, in place."""
    return assign_data(tensor, ops.zeros_like(tensor))


def ones_(tensor):
    """torch.nn.init.ones_, in place."""
    return assign_data(tensor, ops.ones_like(tensor))


def constant_(tensor, val):
    """torch.nn.init.constant_, in place."""
    return assign_data(tensor, ops.full_like(tensor, val))


def xavier_uniform_(tensor, gain=1.0):
    """torch.nn.init.xavier_uniform_: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """torch.nn.init.xavier_normal_: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """torch.nn.init.kaiming_uniform_ with torch's defaults (a=0, fan_in, leaky_relu: gain
    sqrt(2)): U(-b, b), b = sqrt(3) * gain / sqrt(fan).  A tensor with a zero-sized dimension
    is left as it is."""
    if 0 in tuple(tensor.shape):
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """torch.nn.init.kaiming_normal_ with torch's defaults: N(0, std^2), std = gain / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(tensor, mode)))


def orthogonal_(tensor, gain=1):
    """torch.nn.init.orthogonal_: a (semi-)orthogonal matrix over the tensor flattened to
    (rows, numel / rows), times ``gain``, made as torch makes it: the Q of the QR decomposition
    of a standard normal draw (transposed when rows < cols), its columns' signs fixed by R's
    diagonal.  The draw comes from MindSpore's random stream; the QR is numpy's, in float64."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    shape = tuple(tensor.shape)
    rows = shape[0]
    cols = int(np.prod(shape)) // rows if rows else 0
    if rows == 0 or cols == 0:
        return tensor
    flat = ops.randn((rows, cols), dtype=mindspore.float64).asnumpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return assign_data(tensor, mindspore.Tensor((gain * q).reshape(shape), tensor.dtype))


# ---------------------------------------------------------------- nn.Embedding.from_pretrained


class Embedding(nn.Embedding):
    """torch.nn.Embedding(..., padding_idx=i): ``mindspore.nn.Embedding``, whose padding row also
    starts at zero, but gets no gradient, as in torch (MindSpore's trains it: gradient 2 for two
    lookups of it, measured, so the row left zero drifted and the model's numbers with it).  A
    negative ``padding_idx`` counts from the end, as torch's."""

    def __init__(self, vocab_size, embedding_size, use_one_hot=False, embedding_table="normal",
                 dtype=mindspore.float32, padding_idx=None):
        if use_one_hot:
            raise NotImplementedError("Embedding(use_one_hot=True) is not provided by _torch_compat")
        if padding_idx is not None and not -vocab_size <= padding_idx < vocab_size:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx is not None and padding_idx < 0:
            padding_idx += vocab_size
        super().__init__(vocab_size, embedding_size, use_one_hot, embedding_table, dtype, padding_idx)
        self._set_padding(vocab_size, padding_idx)

    def _set_padding(self, vocab_size, padding_idx):
        self.padding_idx = padding_idx
        mask = np.zeros((vocab_size, 1), np.bool_)
        if padding_idx is not None:
            mask[padding_idx] = True
        self._frozen_rows = mindspore.Tensor(mask)
        self._has_padding = padding_idx is not None

    def construct(self, ids):
        table = self.embedding_table
        if self._has_padding:
            table = ops.where(self._frozen_rows, ops.stop_gradient(table), table)
        flat = ops.gather(table, ids.reshape(-1), 0)
        return flat.reshape(tuple(ids.shape) + (self.embedding_size,))


class _PretrainedEmbedding(Embedding):
    """An ``Embedding`` over a given table, its ``padding_idx`` row kept as given (torch keeps it;
    ``mindspore.nn.Embedding(padding_idx=...)`` would zero it) and without gradient."""

    def __init__(self, table, padding_idx=None):
        vocab, dim = (int(n) for n in table.shape)
        nn.Embedding.__init__(self, vocab, dim, embedding_table=table)
        if padding_idx is not None and padding_idx < 0:
            padding_idx += vocab
        self._set_padding(vocab, padding_idx)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """torch.nn.functional.embedding_bag: each bag's rows of ``weight`` summed, averaged or
    maximised.  Bags are the rows of a 2-D ``input``, or the runs of a 1-D ``input`` that
    ``offsets`` starts (with ``include_last_offset`` its last entry is the end).  Rows at
    ``padding_idx`` are left out (of a mean's count too); an empty bag gives zeros;
    ``per_sample_weights`` scales each row (``mode='sum'`` only), as torch.  Gathers and segment
    sums, so gradients reach ``weight`` (and the sample weights); ``sparse`` changes nothing here."""
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding_bag: max_norm and scale_grad_by_freq have no MindSpore equivalent")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', not {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights is only supported for mode='sum' (as in torch)")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None for a 2-D input")
        bags, length = input.shape
        flat = input.reshape(-1)
        bag = ops.arange(bags).reshape(-1, 1).broadcast_to((bags, length)).reshape(-1)
    elif input.ndim == 1:
        if offsets is None or offsets.ndim != 1:
            raise ValueError("embedding_bag: a 1-D input needs 1-D offsets")
        starts = offsets[:-1] if include_last_offset else offsets
        bags, flat = starts.shape[0], input
        bag = ops.searchsorted(starts.astype(mindspore.int64), ops.arange(flat.shape[0]).astype(mindspore.int64),
                               right=True) - 1
    else:
        raise ValueError(f"embedding_bag: input must be 1-D or 2-D, got {input.ndim}-D")
    bag = bag.astype(mindspore.int32)
    rows = ops.gather(weight, flat, 0)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1).astype(rows.dtype)
    keep = ops.ones(flat.shape, rows.dtype) if padding_idx is None else (flat != padding_idx).astype(rows.dtype)
    counts = ops.unsorted_segment_sum(keep, bag, bags).reshape(-1, 1)
    if mode == "max":
        lowest = ops.full(rows.shape, float(np.finfo(np.float32).min), dtype=rows.dtype)
        out = ops.unsorted_segment_max(ops.where(keep.reshape(-1, 1) > 0, rows, lowest), bag, bags)
        return ops.where(counts > 0, out, ops.zeros_like(out))
    out = ops.unsorted_segment_sum(rows * keep.reshape(-1, 1), bag, bags)
    return out / ops.maximum(counts, ops.ones_like(counts)) if mode == "mean" else out


class EmbeddingBag(nn.Cell):
    """torch.nn.EmbeddingBag: a ``weight`` (num_embeddings, embedding_dim) drawn from N(0, 1) as
    torch's (the row at ``padding_idx`` zero), under torch's parameter name, computing
    ``embedding_bag`` (see there) in ``forward(input, offsets=None, per_sample_weights=None)``."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None):
        super().__init__()
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        if _weight is None:
            table = np.random.standard_normal((num_embeddings, embedding_dim)).astype(np.float32)
            if padding_idx is not None:
                table[padding_idx] = 0
            _weight = mindspore.Tensor(table)
        self.weight = mindspore.Parameter(_weight, name="weight")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.scale_grad_by_freq, self.mode = max_norm, scale_grad_by_freq, mode
        self.include_last_offset, self.padding_idx = include_last_offset, padding_idx

    def construct(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, 2, self.scale_grad_by_freq, self.mode,
                             False, per_sample_weights, self.include_last_offset, self.padding_idx)


__all__ += ["Embedding", "embedding_bag", "EmbeddingBag"]


def embedding_from_pretrained(embeddings, freeze=True, padding_idx=None):
    """torch.nn.Embedding.from_pretrained: an Embedding Cell whose ``embedding_table`` is a copy
    of ``embeddings`` (rows, dim), untouched (torch keeps the padding_idx row as given; MindSpore's
    nn.Embedding(padding_idx=...) would zero it), not trained when ``freeze`` (requires_grad=False,
    so trainable_params() leaves it out), and whose padding_idx row gets no gradient."""
    if embeddings.ndim != 2:
        raise ValueError("Embeddings parameter is expected to be 2-dimensional")
    table = mindspore.Tensor(embeddings.asnumpy() if isinstance(embeddings, mindspore.Tensor) else np.asarray(embeddings))
    cell = _PretrainedEmbedding(table, padding_idx)
    cell.embedding_table.requires_grad = not freeze
    return cell


# ---------------------------------------------------------------- more optimizers
# Same protocol and machinery as Adam/SGD above: ``step()`` reads each parameter's ``.grad``,
# skips parameters without one (their state does not advance, as in torch), and updates each
# group by one compiled call whose per-parameter scalars travel in a float64 Tensor (cast to
# each parameter's dtype inside, as torch casts a Python float against a tensor) and whose
# booleans are compile-time; ``_assign_all`` writes the results into the Parameters' storage.
# Each update is written term for term in torch's order (lerp, addcmul, addcdiv), so float32
# results agree with torch's single-tensor CPU path to rounding.


def _lerp(start, end, weight, small):
    """torch's lerp: ``start + w (end - start)`` for w < 0.5, else ``end - (end - start)(1 - w)``
    (``small`` says which, at compile time; ``weight`` is w or 1 - w accordingly)."""
    if small:
        return start + weight * (end - start)
    return end - (end - start) * weight


@mindspore.jit
def _adamw_update(params, grads, exp_avgs, exp_avg_sqs, max_sqs, scalars, maximize, decay_on, amsgrad, lerp_small):
    """Rows of ``scalars``: 1 - lr * weight_decay, lerp weight (1 - beta1, or beta1 when not
    ``lerp_small``), beta2, 1 - beta2, sqrt(bias_correction2), eps, lr / bias_correction1."""
    new_params, new_avgs, new_sqs, new_maxes = [], [], [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        if maximize:
            grad = -grad
        if decay_on:
            p = p * s[0]
        exp_avg = _lerp(exp_avgs[i], grad, s[1], lerp_small)
        exp_avg_sq = exp_avg_sqs[i] * s[2] + s[3] * grad * grad
        if amsgrad:
            largest = ops.maximum(max_sqs[i], exp_avg_sq)
            new_maxes.append(largest)
            denom = ops.sqrt(largest) / s[4] + s[5]
        else:
            denom = ops.sqrt(exp_avg_sq) / s[4] + s[5]
        new_params.append(p + (-s[6]) * exp_avg / denom)
        new_avgs.append(exp_avg)
        new_sqs.append(exp_avg_sq)
    return tuple(new_params), tuple(new_avgs), tuple(new_sqs), tuple(new_maxes)


class AdamW(Optimizer):
    """torch.optim.AdamW: Adam whose weight decay multiplies the parameter by
    ``1 - lr * weight_decay`` before the step instead of entering the gradient, with torch's
    defaults (weight_decay=0.01, unlike Adam's 0), ``amsgrad`` and ``maximize``.
    ``mindspore.nn.AdamWeightDecay`` has the TF formula (no bias correction, eps inside) and
    decays by ``lr * weight_decay * p`` after the step.  State per parameter as torch's:
    ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, weight_decay, amsgrad = group["lr"], group["eps"], group["weight_decay"], bool(group["amsgrad"])
            params, states = self._stepped(group, "exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if amsgrad else ()))
            if not params:
                continue
            lerp_small = (1 - beta1) < 0.5
            rows = [(1 - lr * weight_decay, (1 - beta1) if lerp_small else beta1, beta2, 1 - beta2,
                     math.sqrt(1 - beta2**state["step"]), eps, lr / (1 - beta1**state["step"])) for state in states]
            # without amsgrad the averages stand in for the (unread) maxima: an empty mutable
            # tuple breaks the compiled graph's inputs in MindSpore 2.10
            new_params, exp_avgs, exp_avg_sqs, new_maxes = _adamw_update(
                _values(params), mindspore.mutable(tuple(p.grad for p in params)), _column(states, "exp_avg"),
                _column(states, "exp_avg_sq"), _column(states, "max_exp_avg_sq" if amsgrad else "exp_avg_sq"),
                _scalars(rows), bool(group["maximize"]), bool(weight_decay), amsgrad, lerp_small)
            self._write_back(params, new_params, states, exp_avg=exp_avgs, exp_avg_sq=exp_avg_sqs,
                             **({"max_exp_avg_sq": new_maxes} if amsgrad else {}))


@mindspore.jit
def _rmsprop_update(params, grads, square_avgs, grad_avgs, buffers, scalars, maximize, decay_on, centered,
                    momentum_on, lerp_small):
    """Rows of ``scalars``: weight_decay, alpha, 1 - alpha, eps, momentum, lr."""
    new_params, new_sqs, new_gavgs, new_bufs = [], [], [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        grad = _followed(grad, p, s[0], maximize, decay_on)
        square_avg = square_avgs[i] * s[1] + s[2] * grad * grad
        new_sqs.append(square_avg)
        if centered:
            grad_avg = _lerp(grad_avgs[i], grad, s[2] if lerp_small else s[1], lerp_small)
            new_gavgs.append(grad_avg)
            avg = ops.sqrt(square_avg + (-grad_avg) * grad_avg) + s[3]
        else:
            avg = ops.sqrt(square_avg) + s[3]
        if momentum_on:
            buf = buffers[i] * s[4] + grad / avg
            new_bufs.append(buf)
            new_params.append(p + (-s[5]) * buf)
        else:
            new_params.append(p + (-s[5]) * grad / avg)
    return tuple(new_params), tuple(new_sqs), tuple(new_gavgs), tuple(new_bufs)


class RMSprop(Optimizer):
    """torch.optim.RMSprop with torch's defaults (lr=0.01, alpha=0.99, eps=1e-8 added outside
    the root), ``centered``, ``momentum`` and ``maximize``.  ``mindspore.nn.RMSProp`` defaults to
    lr=0.1, decay=0.9, eps=1e-10 and adds eps inside the root.  State per parameter as torch's:
    ``step``, ``square_avg`` (and ``grad_avg``, ``momentum_buffer``)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 maximize=False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "maximize": maximize})

    def step(self):
        for group in self.param_groups:
            centered, momentum = bool(group["centered"]), group["momentum"]
            params, states = self._stepped(group, "square_avg", *(("momentum_buffer",) if momentum > 0 else ()),
                                           *(("grad_avg",) if centered else ()))
            if not params:
                continue
            rows = [(group["weight_decay"], group["alpha"], 1 - group["alpha"], group["eps"], momentum,
                     group["lr"])] * len(params)
            squares = _column(states, "square_avg")
            new_params, new_sqs, new_gavgs, new_bufs = _rmsprop_update(
                _values(params), mindspore.mutable(tuple(p.grad for p in params)), squares,
                _column(states, "grad_avg") if centered else squares,
                _column(states, "momentum_buffer") if momentum > 0 else squares,
                _scalars(rows), bool(group["maximize"]), bool(group["weight_decay"]), centered, momentum > 0,
                (1 - group["alpha"]) < 0.5)
            self._write_back(params, new_params, states, square_avg=new_sqs,
                             **({"grad_avg": new_gavgs} if centered else {}),
                             **({"momentum_buffer": new_bufs} if momentum > 0 else {}))


@mindspore.jit
def _adagrad_update(params, grads, sums, scalars, maximize, decay_on):
    """Rows of ``scalars``: weight_decay, eps, lr / (1 + (step - 1) * lr_decay)."""
    new_params, new_sums = [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        grad = _followed(grad, p, s[0], maximize, decay_on)
        total = sums[i] + grad * grad
        new_sums.append(total)
        new_params.append(p + (-s[2]) * grad / (ops.sqrt(total) + s[1]))
    return tuple(new_params), tuple(new_sums)


class Adagrad(Optimizer):
    """torch.optim.Adagrad with torch's defaults (lr=0.01, eps=1e-10 added outside the root,
    initial_accumulator_value=0), ``lr_decay`` and ``maximize``; the state (``step``, ``sum``)
    exists from construction, as torch's.  ``mindspore.nn.Adagrad`` starts its accumulator at
    0.1 and has no eps nor lr_decay."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 maximize=False):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  "maximize": maximize})
        for group in self.param_groups:
            for p in group["params"]:
                state = self._state(p)
                state["step"] = 0
                state["sum"] = ops.full_like(p, group["initial_accumulator_value"])

    def step(self):
        for group in self.param_groups:
            params, states = self._stepped(group)  # their states exist from construction
            if not params:
                continue
            rows = [(group["weight_decay"], group["eps"], group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"]))
                    for state in states]
            new_params, new_sums = _adagrad_update(
                _values(params), mindspore.mutable(tuple(p.grad for p in params)), _column(states, "sum"),
                _scalars(rows), bool(group["maximize"]), bool(group["weight_decay"]))
            self._write_back(params, new_params, states, sum=new_sums)


@mindspore.jit
def _adadelta_update(params, grads, square_avgs, acc_deltas, scalars, maximize, decay_on):
    """Rows of ``scalars``: weight_decay, rho, 1 - rho, eps, lr."""
    new_params, new_sqs, new_accs = [], [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        grad = _followed(grad, p, s[0], maximize, decay_on)
        square_avg = square_avgs[i] * s[1] + s[2] * grad * grad
        delta = ops.sqrt(acc_deltas[i] + s[3]) / ops.sqrt(square_avg + s[3]) * grad
        new_sqs.append(square_avg)
        new_accs.append(acc_deltas[i] * s[1] + s[2] * delta * delta)
        new_params.append(p + (-s[4]) * delta)
    return tuple(new_params), tuple(new_sqs), tuple(new_accs)


class Adadelta(Optimizer):
    """torch.optim.Adadelta with torch's defaults (lr=1.0, rho=0.9, eps=1e-6), ``weight_decay``
    and ``maximize``; state as torch's (``step``, ``square_avg``, ``acc_delta``, from the first
    step).  ``mindspore.nn.Adadelta`` defaults to learning_rate=1.0 too but its eps is 1e-6 inside
    a different update (ApplyAdadelta) and it takes no maximize."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize})

    def step(self):
        for group in self.param_groups:
            params, states = self._stepped(group, "square_avg", "acc_delta")
            if not params:
                continue
            rows = [(group["weight_decay"], group["rho"], 1 - group["rho"], group["eps"], group["lr"])] * len(params)
            new_params, new_sqs, new_accs = _adadelta_update(
                _values(params), mindspore.mutable(tuple(p.grad for p in params)), _column(states, "square_avg"),
                _column(states, "acc_delta"), _scalars(rows), bool(group["maximize"]), bool(group["weight_decay"]))
            self._write_back(params, new_params, states, square_avg=new_sqs, acc_delta=new_accs)


@mindspore.jit
def _adamax_update(params, grads, exp_avgs, exp_infs, scalars, maximize, decay_on, lerp_small):
    """Rows of ``scalars``: weight_decay, lerp weight (1 - beta1, or beta1 when not
    ``lerp_small``), beta2, eps, lr / (1 - beta1 ** step)."""
    new_params, new_avgs, new_infs = [], [], []
    rows = _per_param(scalars, params)
    for i in range(len(params)):
        p, grad, s = params[i], grads[i], rows[i]
        grad = _followed(grad, p, s[0], maximize, decay_on)
        exp_avg = _lerp(exp_avgs[i], grad, s[1], lerp_small)
        exp_inf = ops.maximum(exp_infs[i] * s[2], ops.abs(grad) + s[3])
        new_avgs.append(exp_avg)
        new_infs.append(exp_inf)
        new_params.append(p + (-s[4]) * (exp_avg / exp_inf))
    return tuple(new_params), tuple(new_avgs), tuple(new_infs)


class Adamax(Optimizer):
    """torch.optim.Adamax (Adam with the infinity norm) with torch's defaults (lr=2e-3,
    betas=(0.9, 0.999), eps=1e-8 added to ``|grad|`` before the maximum), ``weight_decay`` and
    ``maximize``; state as torch's (``step``, ``exp_avg``, ``exp_inf``, from the first step).
    ``mindspore.nn.AdaMax`` is a Cell taking the gradients as input, with its own ApplyAdaMax
    update."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameters: {betas}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize})

    def step(self):
        for group in self.param_groups:
            params, states = self._stepped(group, "exp_avg", "exp_inf")
            if not params:
                continue
            beta1, beta2 = group["betas"]
            small = 1 - beta1 < 0.5  # torch's lerp takes one of two forms by the weight
            rows = [(group["weight_decay"], 1 - beta1 if small else beta1, beta2, group["eps"],
                     group["lr"] / (1 - beta1 ** state["step"])) for state in states]
            new_params, new_avgs, new_infs = _adamax_update(
                _values(params), mindspore.mutable(tuple(p.grad for p in params)), _column(states, "exp_avg"),
                _column(states, "exp_inf"), _scalars(rows), bool(group["maximize"]), bool(group["weight_decay"]),
                small)
            self._write_back(params, new_params, states, exp_avg=new_avgs, exp_inf=new_infs)


def parameters_to_vector(parameters):
    """torch.nn.utils.parameters_to_vector: every parameter flattened, concatenated in order."""
    return ops.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """torch.nn.utils.vector_to_parameters: ``vec``'s consecutive slices written into the
    parameters, in place and in order (``assign_data``)."""
    if not isinstance(vec, mindspore.Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    start = 0
    for p in parameters:
        n = int(np.prod(p.shape)) if p.shape else 1
        assign_data(p, vec[start:start + n].reshape(tuple(p.shape)))
        start += n


__all__ += ["parameters_to_vector", "vector_to_parameters"]


def clip_grad_value_(parameters, clip_value):
    """torch.nn.utils.clip_grad_value_: each ``p.grad`` clamped to [-clip_value, clip_value]
    (a new tensor set as ``p.grad``, the _torch_compat protocol); returns None."""
    if isinstance(parameters, mindspore.Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    for p in parameters:
        grad = _grad(p)
        if grad is not None:
            p.grad = ops.clamp(grad, -clip_value, clip_value)


def legacy_tensor(*args, dtype):
    """``torch.FloatTensor(...)`` and the other legacy typed constructors, decided at run time
    as torch does: integer sizes give a tensor of that shape (uninitialised in torch, zeros
    here), one sequence, numpy array or tensor gives its data cast to ``dtype``, no argument an
    empty 1-D tensor."""
    if not args:
        return ops.zeros((0,), dtype)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return ops.zeros(tuple(int(a) for a in args), dtype)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, mindspore.Tensor):
            return ops.cast(data, dtype)
        return mindspore.Tensor(np.asarray(data), dtype)
    raise TypeError(f"legacy_tensor(): sizes or one sequence expected, got {len(args)} arguments")


def tensor_new(x, *args):
    """torch's legacy ``x.new(...)``: ``legacy_tensor`` in ``x``'s dtype (integer sizes give
    zeros of that shape, uninitialised in torch; one sequence, array or tensor its data; no
    argument an empty tensor).  A ``torch.Size`` is a plain tuple once converted, so
    ``x.new(size)`` reads it as data: pass the sizes unpacked (``x.new(*size)``)."""
    return legacy_tensor(*args, dtype=x.dtype)


__all__ += ["tensor_new"]


class _LegacyTensorType(type):
    """The metaclass of the legacy tensor types (``torch.FloatTensor`` held as a value:
    ``Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor``): calling one is the legacy
    constructor (``legacy_tensor``), ``isinstance(x, FloatTensor)`` is true for a tensor of that
    dtype only (as torch's), and ``x.type(FloatTensor)`` (``tensor_type``) casts to it."""

    def __call__(cls, *args):
        return legacy_tensor(*args, dtype=cls.dtype)

    def __instancecheck__(cls, x):
        return isinstance(x, mindspore.Tensor) and x.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}' (_torch_compat: {cls.dtype})>"


def _legacy_type(name, dtype):
    return _LegacyTensorType(name, (), {"dtype": dtype, "__module__": __name__})


FloatTensor = _legacy_type("FloatTensor", mindspore.float32)
DoubleTensor = _legacy_type("DoubleTensor", mindspore.float64)
HalfTensor = _legacy_type("HalfTensor", mindspore.float16)
LongTensor = _legacy_type("LongTensor", mindspore.int64)
IntTensor = _legacy_type("IntTensor", mindspore.int32)
ShortTensor = _legacy_type("ShortTensor", mindspore.int16)
CharTensor = _legacy_type("CharTensor", mindspore.int8)
ByteTensor = _legacy_type("ByteTensor", mindspore.uint8)
BoolTensor = _legacy_type("BoolTensor", mindspore.bool_)
_LEGACY_TYPES = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
                 ByteTensor, BoolTensor)


def tensor_type(x, dtype=None, non_blocking=False):
    """torch's ``x.type(t)``: ``x`` cast to ``t`` -- a legacy type (``torch.FloatTensor``, or a
    name holding one), a dtype, or a type's name (``"torch.cuda.LongTensor"``: CUDA placement
    dropped, as the devices rewrite does); without ``t``, the name of ``x``'s legacy type
    (``"torch.FloatTensor"``).  ``non_blocking`` does nothing on a CPU."""
    if dtype is None:
        for legacy in _LEGACY_TYPES:
            if x.dtype == legacy.dtype:
                return f"torch.{legacy.__name__}"
        raise TypeError(f"tensor_type: no legacy torch type for dtype {x.dtype}")
    if isinstance(dtype, str):
        name = dtype.replace("torch.cuda.", "torch.", 1)
        found = [t for t in _LEGACY_TYPES if f"torch.{t.__name__}" == name]
        if not found:
            raise ValueError(f"invalid type: {dtype!r}")
        dtype = found[0]
    if isinstance(dtype, _LegacyTensorType):
        dtype = dtype.dtype
    return ops.cast(x, dtype)


def type_of(x, *args, **kwargs):
    """torch's ``x.type(...)`` on something the tool could not type: a MindSpore tensor as
    ``tensor_type``; any other object's own ``.type`` is called."""
    if isinstance(x, mindspore.Tensor):
        return tensor_type(x, *args, **kwargs)
    return x.type(*args, **kwargs)


__all__ += ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
            "ByteTensor", "BoolTensor", "tensor_type", "type_of"]


# ---------------------------------------------------------------- more layers, functional forms
__all__ += ["elu", "logsigmoid", "LogSigmoid", "kl_div", "pairwise_distance", "conv1d", "layer_norm",
            "batch_norm", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "LSTMCell", "GRUCell", "ZeroPad2d",
            "mish", "Mish"]


def elu(input, alpha=1.0):
    """torch.nn.functional.elu: ``x`` where ``x > 0``, else ``alpha * expm1(x)`` (``ops.elu``
    rejects any alpha but 1.0 in MindSpore 2.10; see ``ELU``)."""
    return ops.where(input > 0, input, alpha * ops.expm1(ops.minimum(input, 0.0)))


def logsigmoid(input):
    """torch.nn.functional.logsigmoid as ``min(x, 0) - log1p(exp(-|x|))``: MindSpore 2.10's
    ``ops.logsigmoid`` / ``nn.LogSigmoid`` give -inf below about x = -88 (float32) where torch
    gives x (measured)."""
    return ops.minimum(input, 0.0) - ops.log1p(ops.exp(-ops.abs(input)))


class LogSigmoid(nn.Cell):
    """torch.nn.LogSigmoid through ``logsigmoid`` above."""

    def construct(self, input):
        return logsigmoid(input)


def kl_div(input, target, reduction="mean", log_target=False):
    """torch.nn.functional.kl_div, ``log_target`` included: ``ops.kl_div`` for probability
    targets (equal to torch's for every reduction, measured), ``exp(t) (t - input)`` for
    log-targets.  'mean' averages over every element, 'batchmean' over the first axis, as torch."""
    _check_reduction("kl_div", reduction, ("mean", "batchmean", "sum", "none"))
    if not log_target:
        return ops.kl_div(input, target, reduction)
    loss = ops.exp(target) * (target - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduced(loss, reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """torch.nn.functional.pairwise_distance: ``||x1 - x2 + eps||_p`` over the last axis (of the
    broadcast difference), as torch computes it.  MindSpore 2.10 has no such function."""
    out = _norm_keepdim(x1 - x2 + eps, p, -1)
    return out if keepdim else out.squeeze(-1)


class PairwiseDistance(nn.Cell):
    """torch.nn.PairwiseDistance: ``pairwise_distance`` (above) with the layer's p, eps, keepdim."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def construct(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


def pdist(input, p=2.0):
    """torch.nn.functional.pdist: the p-norm distance between every pair of rows i < j of an
    (N, M) input, in torch's order (row-major over the upper triangle): N (N - 1) / 2 values."""
    n = input.shape[0]
    rows, cols = np.triu_indices(n, 1)
    diff = ops.gather(input, mindspore.Tensor(rows.astype(np.int32)), 0) - ops.gather(
        input, mindspore.Tensor(cols.astype(np.int32)), 0)
    return _norm_keepdim(diff, p, -1).squeeze(-1)


__all__ += ["PairwiseDistance", "pdist"]


def _single(value, name):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"conv1d: expected one value for {name}, got {value!r}")
        return value[0]
    return value


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d on ``conv2d`` above with a unit height: torch's (out, in/groups,
    k) weight, an int / 1-tuple / 'valid' / 'same' padding, and a 2-D (unbatched) input.
    (``ops.conv1d`` takes pad_mode plus padding as ops.conv2d does.)"""
    if not isinstance(padding, str):
        padding = (0, _single(padding, "padding"))
    unbatched = input.ndim == 2
    if unbatched:
        input = input.expand_dims(0)
    out = conv2d(input.expand_dims(2), weight.expand_dims(2), bias, (1, _single(stride, "stride")), padding,
                 (1, _single(dilation, "dilation")), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.layer_norm: normalize over the last ``len(normalized_shape)`` axes
    with the biased variance, then ``* weight + bias``.  ``ops.layer_norm`` has no CPU kernel in
    MindSpore 2.10 (LayerNormExt, measured)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} does not match the input's "
                         f"trailing shape {tuple(input.shape)}")
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(axes, keep_dims=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keep_dims=True)
    out = centered / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm on ``ops.batch_norm`` (same formula and momentum convention:
    with ``training=True`` the running statistics given are updated in place, the variance
    unbiased, as torch's; measured equal within 5e-7).  ``ops.batch_norm`` needs a weight and a
    bias (ones and zeros here when None) and running statistics (with ``training=True`` and
    None, as torch, the batch statistics are used and nothing is updated)."""
    channels = input.shape[1]
    if weight is None:
        weight = ops.ones((channels,), input.dtype)
    if bias is None:
        bias = ops.zeros((channels,), input.dtype)
    if running_mean is None or running_var is None:
        if not training:
            raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
        running_mean = ops.zeros((channels,), input.dtype)
        running_var = ops.ones((channels,), input.dtype)
    return ops.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


class MaxPool1d(nn.MaxPool1d):
    """torch.nn.MaxPool1d: ``stride`` defaults to ``kernel_size`` (MindSpore's to 1) and
    ``padding``, ``dilation``, ``return_indices`` and ``ceil_mode`` are honoured (``pad_mode='pad'``;
    MindSpore rejects them with its default 'valid')."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, kernel_size if stride is None else stride, "pad", padding, dilation,
                         return_indices, ceil_mode)


class AvgPool1d(nn.AvgPool1d):
    """torch.nn.AvgPool1d: ``stride`` defaults to ``kernel_size`` (MindSpore's to 1) and
    ``padding`` is honoured (``pad_mode='pad'``); ``ceil_mode`` and ``count_include_pad`` as torch's."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, kernel_size if stride is None else stride, "pad", padding, ceil_mode,
                         count_include_pad)


class AdaptiveAvgPool1d(nn.Cell):
    """torch.nn.AdaptiveAvgPool1d through ``ops.adaptive_avg_pool2d`` on a unit height:
    ``mindspore.nn.AdaptiveAvgPool1d`` requires the length to be divisible by the output size and
    a 3-D input (measured); torch's windows [floor(i L / n), ceil((i + 1) L / n)) need neither."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _single(output_size, "output_size")

    def construct(self, input):
        size = input.shape[-1] if self.output_size is None else self.output_size
        out = ops.adaptive_avg_pool2d(input.expand_dims(-2), (1, size))
        return out.squeeze(-2)


def _unbatched_cell(cell, input, hx, hidden_size, is_lstm):
    """torch's RNN cells accept an unbatched ``(H_in,)`` input (and ``(H,)`` states) and no
    ``hx`` (zeros); MindSpore's want a batch axis and the states: add them, run ``cell``, and
    take the axis out again (``_unbatched_rnn``'s twin for the one-step cells)."""
    unbatched = input.ndim == 1
    if unbatched:
        input = input.expand_dims(0)
        if hx is not None:
            hx = (hx[0].expand_dims(0), hx[1].expand_dims(0)) if is_lstm else hx.expand_dims(0)
    if hx is None:
        zeros = ops.zeros((input.shape[0], hidden_size), input.dtype)
        hx = (zeros, zeros) if is_lstm else zeros
    out = cell(input, (hx[0], hx[1]) if is_lstm else hx)
    if not unbatched:
        return out
    return (out[0].squeeze(0), out[1].squeeze(0)) if is_lstm else out.squeeze(0)


class LSTMCell(nn.LSTMCell):
    """torch.nn.LSTMCell on ``mindspore.nn.LSTMCell`` (same parameter names weight_ih, weight_hh,
    bias_ih, bias_hh, shapes, gate order and U(-1/sqrt(hidden), 1/sqrt(hidden)) initialization):
    ``bias`` is ``has_bias``, ``hx`` may be left out (zeros, as torch; MindSpore requires it) and
    an unbatched 1-D input works.  Returns ``(h, c)`` as torch."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, has_bias=bool(bias))

    def construct(self, input, hx=None):
        return _unbatched_cell(super().construct, input, hx, self.hidden_size, True)


class GRUCell(nn.GRUCell):
    """torch.nn.GRUCell on ``mindspore.nn.GRUCell`` (see ``LSTMCell``; returns ``h``)."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, has_bias=bool(bias))

    def construct(self, input, hx=None):
        return _unbatched_cell(super().construct, input, hx, self.hidden_size, False)


class RNNCell(nn.RNNCell):
    """torch.nn.RNNCell on ``mindspore.nn.RNNCell`` (same parameter names weight_ih, weight_hh,
    bias_ih, bias_hh, shapes and initialization; see ``LSTMCell``): ``bias`` is ``has_bias``,
    ``nonlinearity`` 'tanh' or 'relu', an optional ``hx`` and unbatched input; returns ``h``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, has_bias=bool(bias), nonlinearity=nonlinearity)

    def construct(self, input, hx=None):
        return _unbatched_cell(super().construct, input, hx, self.hidden_size, False)


__all__ += ["RNNCell"]


class ZeroPad2d(nn.Cell):
    """torch.nn.ZeroPad2d through ``pad`` above: an int or torch's (left, right, top, bottom),
    negative values crop (``ops.pad`` crops right only on its first call in MindSpore 2.10)."""

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)

    def construct(self, input):
        return pad(input, self.padding, "constant", 0.0)


class _Pad1d(nn.Cell):
    """torch's 1-D padding layers through ``pad`` above: an int or (left, right); constant pads
    crop where negative, as torch's."""

    mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = (padding,) * 2 if isinstance(padding, int) else tuple(padding)
        self.value = value

    def construct(self, input):
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self.mode)


class ZeroPad1d(_Pad1d):
    """torch.nn.ZeroPad1d."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad1d(_Pad1d):
    """torch.nn.ConstantPad1d(padding, value)."""


class ReflectionPad1d(_Pad1d):
    """torch.nn.ReflectionPad1d."""

    mode = "reflect"


class ReplicationPad1d(_Pad1d):
    """torch.nn.ReplicationPad1d."""

    mode = "replicate"


__all__ += ["ZeroPad1d", "ConstantPad1d", "ReflectionPad1d", "ReplicationPad1d"]


_EPS_F16, _EPS_F32, _EPS_F64 = (float(np.finfo(t).eps) for t in (np.float16, np.float32, np.float64))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """torch.nn.functional.rms_norm: ``input / sqrt(mean(input ** 2) + eps)`` over the last
    ``len(normalized_shape)`` axes, times ``weight``; ``eps`` None is the dtype's machine epsilon,
    as torch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if eps is None:  # the dtype's machine epsilon, as torch (branches on the dtype compile inside jit)
        eps = _EPS_F64 if input.dtype == mindspore.float64 else _EPS_F16 if input.dtype == mindspore.float16 else _EPS_F32
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ops.rsqrt(ops.mean(input * input, axes, True) + eps)
    return out if weight is None else out * weight


class RMSNorm(nn.Cell):
    """torch.nn.RMSNorm: ``rms_norm`` with a ``weight`` (ones, torch's name) when
    ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = (mindspore.Parameter(ops.ones(self.normalized_shape, mindspore.float32), name="weight")
                       if elementwise_affine else None)

    def construct(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)


__all__ += ["rms_norm", "RMSNorm"]


def mish(input):
    """torch.nn.functional.mish, ``x * tanh(softplus(x))``: MindSpore 2.10's ``ops.mish`` /
    ``nn.Mish`` return NaN from about x = 44 up (measured; torch gives x).  softplus is linear
    above 20 and ``tanh`` above is the accurate one."""
    return input * tanh(ops.softplus(input))


class Mish(nn.Cell):
    """torch.nn.Mish through ``mish`` above."""

    def construct(self, input):
        return mish(input)


# ---------------------------------------------------------------- norms and sizes
__all__ += ["norm", "size_tuple"]


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm / Tensor.norm: a number ``p`` (and ``"fro"``, the 2-norm) is the vector p-norm
    over ``dim`` (every element when None; an int, a tuple or a list), as torch computes it.
    ``ops.norm`` / ``Tensor.norm`` apply numpy's matrix-norm rules instead where there is no
    ``dim`` or where ``dim`` has two axes (``x.norm(1)`` of a matrix is its largest column sum
    there, the sum of all ``|x|`` in torch).  ``p="nuc"`` is refused (no vector form).
    Written with reductions that compile inside ``mindspore.jit`` (``ops.norm`` does not build
    there in MindSpore 2.10); ``clip_grad_norm_`` and ``dist`` use it too."""
    if dtype is not None:
        input = ops.cast(input, dtype)
    if isinstance(p, str):
        if p != "fro":
            raise NotImplementedError(f"norm(p={p!r}) is not implemented in _torch_compat (only numbers and 'fro')")
        p = 2.0
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    if p == float("inf"):
        return ops.amax(ops.abs(input), dims, keepdim)
    if p == float("-inf"):
        return ops.amin(ops.abs(input), dims, keepdim)
    if p == 0:
        return ops.sum(ops.cast(input != 0, input.dtype), dims, keepdim)
    if p == 1:
        return ops.sum(ops.abs(input), dims, keepdim)
    if p == 2:
        return ops.sqrt(ops.sum(input * input, dims, keepdim))
    return ops.pow(ops.sum(ops.pow(ops.abs(input), p), dims, keepdim), 1.0 / p)


def size_tuple(sizes=()):
    """torch.Size(sizes): a tuple of ints (MindSpore shapes are plain tuples)."""
    return tuple(int(s) for s in sizes)


# ---------------------------------------------------------------- module tree
__all__ += ["modules", "named_children", "add_module", "register_parameter", "ModuleList", "ModuleDict"]


def modules(cell):
    """torch.nn.Module.modules(): the Cell and every Cell below it, each once, depth first
    (``cells_and_names`` order, as torch's)."""
    return [c for _name, c in cell.cells_and_names()]


def named_children(cell):
    """torch.nn.Module.named_children(): (name, Cell) of the direct children, in order."""
    return list(cell.name_cells().items())


def add_module(cell, name, module):
    """torch.nn.Module.add_module / register_module: ``setattr``, which names the child's
    Parameters ``name.weight`` & co.  ``Cell.insert_child_to_cell`` leaves them unprefixed:
    two children inserted that way both hold a Parameter named ``weight`` (measured in
    MindSpore 2.10), which a checkpoint or an optimizer then confuses.  On a SequentialCell
    (torch's ``nn.Sequential().add_module(...)``, a common way to build one) the child also
    joins the sequence: ``SequentialCell.construct`` runs its ``cell_list``, which ``setattr``
    alone leaves as it was (the layers added would silently not run; measured)."""
    setattr(cell, name, module)
    if isinstance(cell, nn.SequentialCell):
        cell.cell_list = list(cell._cells.values())
    if isinstance(cell, _TorchNames):
        cell._rename()


def register_parameter(cell, name, param):
    """torch.nn.Module.register_parameter: ``setattr`` (None registers nothing, as torch's
    stays None)."""
    setattr(cell, name, param)


class _TorchNames:
    """Names the Parameters of Cells put into this container after it became an attribute
    under that attribute (``layers.0.weight``, ``heads.rating.weight``), as torch does.
    MindSpore names Parameters when a Cell is assigned, with the prefix it can see then: a
    container assigned empty and filled later names its Cells' Parameters ``0.weight`` or
    ``rating.weight`` in every such container (measured in 2.10; checkpoints and optimizers
    then confuse them).  The prefix MindSpore hands the container on assignment is kept."""

    def update_parameters_name(self, prefix="", recurse=True):
        object.__setattr__(self, "_torch_prefix", prefix)
        super().update_parameters_name(prefix, recurse)

    def _rename(self):
        prefix = getattr(self, "_torch_prefix", None)
        if prefix:
            for key, cell in self.name_cells().items():
                _prefix_parameters(cell, f"{prefix}{key}.")


def _prefix_parameters(cell, prefix):
    """``cell.update_parameters_name(prefix)`` for any prefix torch allows.  MindSpore checks a
    prefix against ``[\\w.-]*``; torch allows any ModuleDict key without a dot (DeepCTR's ONN
    keys its embeddings ``'user+gender'``), and a Parameter's own name takes any string."""
    if _LEGAL_PREFIX.match(prefix):
        cell.update_parameters_name(prefix)
        return
    for name, param in cell.parameters_and_names():
        param.is_init = False  # as update_parameters_name does for a non-empty prefix
        param.name = prefix + name


#: the prefixes Cell.update_parameters_name accepts (its check, MindSpore 2.10)
_LEGAL_PREFIX = re.compile(r"^\w*[0-9a-zA-Z_.\-]*$", re.ASCII)


class ModuleList(_TorchNames, nn.CellList):
    """torch.nn.ModuleList: an ``nn.CellList`` whose Cells appended, extended or inserted after
    it became an attribute are named as torch names them (``_TorchNames``)."""

    def append(self, cell):
        super().append(cell)
        self._rename()
        return self

    def extend(self, cells):
        for cell in cells:
            super().append(cell)
        self._rename()
        return self

    def insert(self, index, cell):
        super().insert(index, cell)
        self._rename()


class ModuleDict(_TorchNames, nn.CellDict):
    """torch.nn.ModuleDict: an ``nn.CellDict`` whose Cells set or updated after it became an
    attribute are named as torch names them (``_TorchNames``)."""

    def __setitem__(self, key, cell):
        super().__setitem__(key, cell)
        self._rename()

    def _update_cell_para_name(self, key, cell):
        if _LEGAL_PREFIX.match(key):
            super()._update_cell_para_name(key, cell)
        elif self._auto_prefix:  # a key MindSpore refuses as a prefix: named as a first Cell is
            _prefix_parameters(cell, f"{getattr(self, '_torch_prefix', '')}{key}.")

    def update(self, cells):
        super().update(cells)
        self._rename()


def _refuse_in_graph(container, how):
    """Raise when MindSpore's graph compiler runs a ParameterList's/ParameterDict's ``__getitem__``
    or ``__iter__`` (its caller is then MindSpore's own code): it takes the Parameters they return
    as constants, so the graph would compute with them but give them zero gradients, silently
    (measured in 2.10).  Failing makes a compiled training step fall back to PyNative, and a
    compiled construct say so, instead."""
    caller = sys._getframe(2).f_globals.get("__name__", "")
    if caller.startswith("mindspore."):
        raise RuntimeError(f"{type(container).__name__} {how} inside a compiled graph, where MindSpore takes its "
                           "Parameters as constants (their gradients would be zero): use .at(i) / .values(), "
                           "which python -m migrate writes where it knows the type, or run this in PyNative")


class ParameterList(_TorchNames, nn.Cell):
    """torch.nn.ParameterList (MindSpore 2.10 has none): a Cell holding Parameters under their
    index, so they are registered, trainable and differentiated, with torch's names
    (``vars.0``, ``vars.1``: the prefix MindSpore hands the list on assignment, or the one its
    first Parameter carries when an enclosing Cell renamed it since); ``append``, ``extend``,
    ``len``, iteration, indexing (negative indices and slices too) and item assignment as torch's.
    A value that is not a Parameter is wrapped in one, as torch does.

    Inside ``mindspore.jit`` MindSpore 2.10 runs a Cell's ``__getitem__``/``__iter__`` as Python
    and takes the Parameters they return as constants: a gradient through ``plist[i]`` is
    silently zero (measured).  Its plain methods compile, so the tool writes ``plist[i]`` as
    ``plist.at(i)`` and ``for p in plist`` as ``for p in plist.values()`` (measured: the
    gradients then equal torch's)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _prefix(self):
        if self._size:
            first = getattr(self, "0").name
            if first.endswith("0"):
                return first[:-1]
        return getattr(self, "_torch_prefix", "")

    @staticmethod
    def _parameter(value):
        """``value`` itself if a Parameter, else wrapped in one (as torch's ParameterList does)."""
        return value if isinstance(value, mindspore.Parameter) else mindspore.Parameter(value)

    def append(self, value):
        value = self._parameter(value)
        prefix, index = self._prefix(), str(self._size)
        setattr(self, index, value)
        value.name = prefix + index
        object.__setattr__(self, "_size", self._size + 1)
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def at(self, idx):
        """``plist[idx]`` (an int, negative from the end), also inside ``mindspore.jit``."""
        if idx < 0:
            idx = idx + self._size
        return getattr(self, str(idx))

    def values(self):
        """The Parameters in order (a tuple), also inside ``mindspore.jit``."""
        items = ()
        for i in range(self._size):
            items = items + (getattr(self, str(i)),)
        return items

    def __len__(self):
        return self._size

    def __iter__(self):
        _refuse_in_graph(self, "iterated")
        return iter(self.values())

    def _checked(self, idx):
        """``idx`` from the start (a negative one counts from the end), or IndexError."""
        if idx < -self._size or idx >= self._size:
            raise IndexError(f"ParameterList index {idx} out of range ({self._size} Parameters)")
        return idx % self._size

    def __getitem__(self, idx):
        _refuse_in_graph(self, "indexed")
        if isinstance(idx, slice):
            return list(self.values()[idx])
        return self.at(self._checked(idx))

    def __setitem__(self, idx, value):
        value = self._parameter(value)
        index = str(self._checked(idx))
        name = getattr(self, index).name
        setattr(self, index, value)
        value.name = name


__all__ += ["ParameterList"]


class ParameterDict(_TorchNames, nn.Cell):
    """torch.nn.ParameterDict (MindSpore 2.10 has none): a Cell holding Parameters as attributes
    named by their keys, so they are registered, trainable and differentiated, with torch's
    names (``weights.W_0``); keys in insertion order, ``update`` (a mapping or (key, value)
    pairs), item assignment and deletion, ``in``, ``len``, iteration over the keys, ``keys``,
    ``values``, ``items``, ``get`` and ``pop`` as torch's.  A value that is not a Parameter is
    wrapped in one, as torch does.  As torch's, it takes a plain dict's items in sorted key order
    (an OrderedDict's, another ParameterDict's or a sequence of pairs in their own order).

    Inside ``mindspore.jit`` a Cell's ``__getitem__`` gives the Parameter as a constant (see
    ParameterList), so the tool writes ``pdict[key]`` as ``pdict.at(key)``; ``values()`` and
    ``items()`` compile as they are."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", [])
        if parameters is not None:
            self.update(parameters)

    def _prefix(self):
        if self._keys:
            first = self._keys[0]
            name = getattr(self, first).name
            if name.endswith(first):
                return name[:-len(first)]
        return getattr(self, "_torch_prefix", "")

    def _checked(self, key):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys are strings, not {type(key).__name__}")
        if "." in key or not key:
            raise KeyError(f"ParameterDict key {key!r} cannot be empty or contain '.'")
        return key

    def at(self, key):
        """``pdict[key]``, also inside ``mindspore.jit``."""
        return getattr(self, key)

    def __getitem__(self, key):
        _refuse_in_graph(self, "indexed")
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        value = ParameterList._parameter(value)
        prefix = self._prefix()
        setattr(self, self._checked(key), value)
        value.name = prefix + key
        if key not in self._keys:
            self._keys.append(key)

    def __delitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        delattr(self, key)
        self._keys.remove(key)

    def __contains__(self, key):
        return key in self._keys

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(list(self._keys))

    def keys(self):
        return tuple(self._keys)

    def values(self):
        """The Parameters in key order (a tuple), also inside ``mindspore.jit``."""
        items = ()
        for key in self._keys:
            items = items + (getattr(self, key),)
        return items

    def items(self):
        """(key, Parameter) pairs in key order (a tuple), also inside ``mindspore.jit``."""
        pairs = ()
        for key in self._keys:
            pairs = pairs + ((key, getattr(self, key)),)
        return pairs

    def get(self, key, default=None):
        return getattr(self, key) if key in self._keys else default

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def update(self, parameters):
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())  # torch sorts a plain mapping's keys (not an OrderedDict's)
        else:
            pairs = parameters
        for key, value in pairs:
            self[key] = value
        return self


__all__ += ["ParameterDict"]


# --------------------------------------------------------------------------- .to / .cuda / .cpu
_PYTHON_DTYPES = {float: mindspore.float64, int: mindspore.int64, bool: mindspore.bool_}


def to(x, *args, **kwargs):
    """torch's ``x.to(...)`` where the tool could not tell, from the source, what ``x`` or the
    argument is (``x.to(device)`` in a loop over a loader, ``t.to(self.dev)``); run time can.
    A MindSpore tensor or Cell: a dtype (``mindspore.float32``, Python's ``float``/``int``/
    ``bool`` as torch reads them, or another tensor's dtype) casts the tensor; anything else
    (a device string or index, None) changes nothing, as MindSpore places tensors per process.
    Casting a whole Cell has no MindSpore equivalent and raises.  Any other object's own
    ``.to`` is called, unchanged."""
    if not isinstance(x, (mindspore.Tensor, nn.Cell)):
        return x.to(*args, **kwargs)
    dtype = kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, mindspore.Tensor):
            dtype = arg.dtype
        elif isinstance(arg, mindspore.dtype.Type):
            dtype = arg
        elif isinstance(arg, type) and arg in _PYTHON_DTYPES:
            dtype = _PYTHON_DTYPES[arg]
    if isinstance(dtype, type) and dtype in _PYTHON_DTYPES:
        dtype = _PYTHON_DTYPES[dtype]
    if dtype is None:
        return x
    if isinstance(x, nn.Cell):
        raise TypeError("module.to(dtype): casting a whole Cell's parameters has no MindSpore equivalent "
                        "(Cell.to_float casts its inputs); cast the Parameters instead")
    return x.astype(dtype)


def cuda(x, *args, **kwargs):
    """torch's ``x.cuda()`` on something the tool could not type: a MindSpore tensor or Cell is
    returned as it is (MindSpore places tensors per process); any other object's own ``.cuda``
    is called."""
    return x if isinstance(x, (mindspore.Tensor, nn.Cell)) else x.cuda(*args, **kwargs)


def cpu(x, *args, **kwargs):
    """torch's ``x.cpu()`` on something the tool could not type (see ``cuda``)."""
    return x if isinstance(x, (mindspore.Tensor, nn.Cell)) else x.cpu(*args, **kwargs)


def _cast_of(x, dtype, method):
    """A MindSpore tensor cast to ``dtype``, a Cell's floating Parameters cast (``cast_cell``, the
    Cell returned, as ``Module.float()``), any other object's own ``method`` called."""
    if isinstance(x, mindspore.Tensor):
        return x.astype(dtype)
    if isinstance(x, nn.Cell):
        return cast_cell(x, dtype)
    return getattr(x, method)()


def float_of(x):
    """torch's ``x.float()`` on something the tool could not type (float32, see ``_cast_of``)."""
    return _cast_of(x, mindspore.float32, "float")


def double_of(x):
    """torch's ``x.double()`` on something the tool could not type (float64, see ``_cast_of``)."""
    return _cast_of(x, mindspore.float64, "double")


def detach_of(x):
    """torch's ``x.detach()`` on something the tool could not type: a MindSpore tensor passes
    through ``ops.stop_gradient`` (MindSpore's Tensor has no ``detach``); any other object's own
    ``.detach`` is called."""
    if isinstance(x, mindspore.Tensor):
        return ops.stop_gradient(x)
    return x.detach()


def clone_of(x, **kwargs):
    """torch's ``x.clone()`` on something the tool could not type: a MindSpore tensor is copied
    (``Tensor.copy``: 2.10 has no CPU kernel for ``clone``; ``memory_format`` means nothing
    there); any other object's own ``.clone`` is called."""
    if isinstance(x, mindspore.Tensor):
        return x.copy()
    return x.clone(**kwargs)


def repeat_of(x, *sizes, **kwargs):
    """torch's ``x.repeat(...)`` on something the tool could not type: a MindSpore tensor is tiled
    (2.10 has no CPU kernel for ``Tensor.repeat``; torch takes the sizes spread or as one
    sequence); any other object's own ``.repeat`` is called (numpy's repeats elements, as it did
    in the torch program)."""
    if not isinstance(x, mindspore.Tensor):
        return x.repeat(*sizes, **kwargs)
    if kwargs:
        sizes = (kwargs.pop("repeats"),) if "repeats" in kwargs else sizes
        if kwargs:
            raise TypeError(f"repeat_of: unexpected arguments {sorted(kwargs)}")
    return x.tile(tuple(int(n) for n in _spread(sizes)))


def _factory_options(name, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """torch's options of ``x.new_zeros``/``new_ones``/``new_tensor``: the dtype; the device, layout
    and pinning mean nothing to MindSpore on a CPU, and a MindSpore tensor carries no requires_grad."""
    if requires_grad:
        raise NotImplementedError(f"{name}(requires_grad=True): MindSpore tensors carry no requires_grad")
    return dtype


def new_zeros_of(x, *size, **options):
    """torch's ``x.new_zeros(*size)`` on something the tool could not type: a MindSpore tensor's
    ``new_zeros`` with the size as one tuple (the receiver's dtype unless ``dtype=``); any other
    object's own ``.new_zeros`` with the arguments as given."""
    if not isinstance(x, mindspore.Tensor):
        return x.new_zeros(*size, **options)
    return x.new_zeros(_spread(size), dtype=_factory_options("new_zeros", **options))


def new_ones_of(x, *size, **options):
    """torch's ``x.new_ones(*size)`` on something the tool could not type (see ``new_zeros_of``)."""
    if not isinstance(x, mindspore.Tensor):
        return x.new_ones(*size, **options)
    return x.new_ones(_spread(size), dtype=_factory_options("new_ones", **options))


def new_tensor_of(x, data, **options):
    """torch's ``x.new_tensor(data)`` on something the tool could not type: ``new_tensor`` of a
    MindSpore tensor (a copy of ``data`` in ``x``'s dtype unless ``dtype=``); any other object's
    own ``.new_tensor``."""
    if not isinstance(x, mindspore.Tensor):
        return x.new_tensor(data, **options)
    return new_tensor(x, data, dtype=_factory_options("new_tensor", **options))


_SortResult = namedtuple("sort", ["values", "indices"])


def _sort_args(what, dim=-1, descending=False, stable=False):
    """torch's ``sort``/``argsort`` arguments as ``ops.sort``'s (axis, descending)."""
    if stable:
        raise NotImplementedError(f"{what}(stable=True): MindSpore's sort does not promise a stable order")
    return dim, descending


def sort_of(x, *args, **kwargs):
    """torch's ``x.sort(dim=-1, descending=False)`` on something the tool could not type: a
    MindSpore tensor is sorted by ``ops.sort`` and the result unpacks as ``(values, indices)``
    or reads ``.values``/``.indices``, as torch's (indices int32, where torch's are int64); any
    other object's own ``.sort`` is called with the arguments as given."""
    if not isinstance(x, mindspore.Tensor):
        return x.sort(*args, **kwargs)
    axis, descending = _sort_args("sort", *args, **kwargs)
    return _SortResult(*ops.sort(x, axis=axis, descending=descending))


def argsort_of(x, *args, **kwargs):
    """torch's ``x.argsort(dim=-1, descending=False)`` on something the tool could not type:
    ``ops.argsort`` of a MindSpore tensor (indices int32, torch's int64); any other object's own
    ``.argsort`` with the arguments as given (numpy's, as the torch program called it)."""
    if not isinstance(x, mindspore.Tensor):
        return x.argsort(*args, **kwargs)
    axis, descending = _sort_args("argsort", *args, **kwargs)
    return ops.argsort(x, axis=axis, descending=descending)


__all__ += ["to", "cuda", "cpu", "float_of", "double_of", "detach_of", "clone_of", "repeat_of", "sort_of", "argsort_of",
            "new_zeros_of", "new_ones_of", "new_tensor_of"]


# --------------------------------------------------------------------------- members on untyped receivers
def transpose_of(x, dim0, dim1):
    """torch's ``x.transpose(dim0, dim1)`` on something the tool could not type: a MindSpore tensor
    swaps the two axes (its own ``Tensor.transpose`` permutes all of them, as numpy's does); any
    other object's own ``.transpose`` is called (numpy's permutation, as in the torch program).
    Compiles inside mindspore.jit."""
    if isinstance(x, mindspore.Tensor):
        return x.swapaxes(dim0, dim1)
    return x.transpose(dim0, dim1)


def expand_of(x, *sizes, **kwargs):
    """torch's ``x.expand(*sizes)`` on something the tool could not type: a MindSpore tensor is
    broadcast (``ops.broadcast_to``: -1 keeps a size, as in torch; sizes spread or as one
    sequence); any other object's own ``.expand`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.expand(*sizes, **kwargs)
    if "size" in kwargs:
        sizes = (kwargs.pop("size"),)
    if kwargs:
        raise TypeError(f"expand_of: unexpected arguments {sorted(kwargs)}")
    return ops.broadcast_to(x, _spread(sizes))


def softmax_of(x, dim, dtype=None):
    """torch's ``x.softmax(dim)`` on something the tool could not type: a MindSpore tensor's
    softmax along ``dim`` (cast to ``dtype`` first when given, as torch); any other object's own
    ``.softmax`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.softmax(dim) if dtype is None else x.softmax(dim, dtype=dtype)
    if dtype is not None:
        x = ops.cast(x, dtype)
    return ops.softmax(x, dim)


def _extreme_of(x, name, reduce, dim, keepdim):
    if not isinstance(x, mindspore.Tensor):
        return getattr(x, name)(dim, keepdim)
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return reduce(x, keepdims=keepdim)
    return reduce(x, axis=tuple(dim) if isinstance(dim, list) else dim, keepdims=keepdim)


def amax_of(x, dim=(), keepdim=False):
    """torch's ``x.amax(dim, keepdim)`` on something the tool could not type: a MindSpore tensor
    goes through ``ops.amax`` (every element when ``dim`` is omitted, as torch); any other
    object's own ``.amax`` is called."""
    return _extreme_of(x, "amax", ops.amax, dim, keepdim)


def amin_of(x, dim=(), keepdim=False):
    """torch's ``x.amin(dim, keepdim)`` on something the tool could not type (see ``amax_of``)."""
    return _extreme_of(x, "amin", ops.amin, dim, keepdim)


__all__ += ["transpose_of", "expand_of", "softmax_of", "amax_of", "amin_of"]


def size_of(x, *args, **kwargs):
    """torch's ``x.size()``/``x.size(d)`` on something the tool could not type: a MindSpore
    tensor gives its shape (a tuple) or one axis of it (MindSpore's own ``Tensor.size`` is the
    element count); any other object's own ``.size`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.size(*args, **kwargs)
    dim = args[0] if args else kwargs.get("dim")
    return tuple(x.shape) if dim is None else x.shape[dim]


def train_mode(x, mode=True):
    """torch's ``module.train(mode)`` on something the tool could not type: a Cell is set to
    that mode (``set_train``) and returned; any other object's own ``.train`` is called."""
    if isinstance(x, nn.Cell):
        x.set_train(mode)
        return x
    return x.train(mode)


def eval_mode(x):
    """torch's ``module.eval()`` on something the tool could not type (see ``train_mode``)."""
    if isinstance(x, nn.Cell):
        x.set_train(False)
        return x
    return x.eval()


def synchronize(device=None):
    """torch.cuda.synchronize(): wait for the device's queued work (timing code reads the clock
    after it).  On a CPU there is none to wait for (this module launches kernels synchronously,
    and MindSpore's ``runtime.synchronize`` logs an error for the CPU device); elsewhere MindSpore's
    ``runtime.synchronize``.  ``device`` is ignored: MindSpore has one device per process."""
    if mindspore.get_context("device_target") != "CPU":
        mindspore.runtime.synchronize()


def set_cuda_device(device):
    """torch.cuda.set_device: a MindSpore process runs on the one device ``mindspore.set_context``
    / ``mindspore.set_device`` chose, and the converted code answers ``torch.cuda.is_available()``
    False (CPU branches), so there is no device to switch to; the call changes nothing."""
    return None


__all__ += ["synchronize", "set_cuda_device"]


class autocast:
    """torch's autocast (``torch.autocast``, ``torch.cuda.amp.autocast``, ``torch.cpu.amp.autocast``)
    as a context manager or decorator that changes nothing: the converted program computes in
    its tensors' own dtypes (float32), which is what torch computes with autocast disabled, and
    what MindSpore runs on a CPU.  Mixed precision in MindSpore is set on a network
    (``mindspore.amp.auto_mixed_precision``), not around a block; the arguments are accepted
    and ignored."""

    def __init__(self, device_type=None, dtype=None, enabled=True, cache_enabled=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        return fn


def _as_float_tensor(value):
    return value if isinstance(value, mindspore.Tensor) else mindspore.Tensor(np.asarray(value, np.float32))


def _sample_shape(sample_shape):
    return (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)


class _Distribution(_HostObject):
    """The part of torch.distributions the tool converts: parameters held as MindSpore tensors,
    ``sample`` drawn from MindSpore's random stream (so draws differ from torch's), ``log_prob``,
    ``entropy``, ``mean``/``variance``/``stddev`` and ``kl_divergence`` computed as torch's
    (differentiable in the parameters).  A Python object: a construct that builds one runs in
    PyNative (graph_mode)."""

    batch_shape = property(lambda self: tuple(self._batch))

    @property
    def stddev(self):
        return ops.sqrt(self.variance)

    def sample(self, sample_shape=()):
        return ops.stop_gradient(self._draw(_sample_shape(sample_shape)))


class Normal(_Distribution):
    """torch.distributions.Normal(loc, scale): ``rsample`` is ``loc + scale * eps`` (eps ~ N(0, 1),
    the reparameterisation: gradients reach loc and scale), ``sample`` the same without them."""

    def __init__(self, loc, scale, validate_args=None):
        loc, scale = _as_float_tensor(loc), _as_float_tensor(scale)
        self._batch = tuple(np.broadcast_shapes(tuple(loc.shape), tuple(scale.shape)))
        self.loc, self.scale = loc.broadcast_to(self._batch), scale.broadcast_to(self._batch)

    mean = property(lambda self: self.loc)
    variance = property(lambda self: self.scale ** 2)
    stddev = property(lambda self: self.scale)

    def _draw(self, shape):
        eps = ops.standard_normal(shape + self._batch).astype(self.loc.dtype)
        return self.loc + eps * self.scale

    def rsample(self, sample_shape=()):
        return self._draw(_sample_shape(sample_shape))

    def log_prob(self, value):
        value = _as_float_tensor(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - ops.log(self.scale) - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + ops.log(self.scale)

    def cdf(self, value):
        return 0.5 * (1 + ops.erf((_as_float_tensor(value) - self.loc) / (self.scale * math.sqrt(2))))


class Categorical(_Distribution):
    """torch.distributions.Categorical(probs=None, logits=None) over the last axis: probabilities
    normalised, logits made log-probabilities, as torch; samples are int64 category indices."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give either probs or logits, not both")
        if probs is not None:
            probs = _as_float_tensor(probs)
            self.probs = probs / probs.sum(-1, keepdims=True)
            self.logits = ops.log(ops.clamp(self.probs, min=float(np.finfo(np.float32).tiny)))
        else:
            logits = _as_float_tensor(logits)
            self.logits = logits - ops.logsumexp(logits, -1, True)
            self.probs = ops.softmax(self.logits, -1)
        self._batch = tuple(self.probs.shape[:-1])
        self._num_events = self.probs.shape[-1]

    mean = property(lambda self: ops.full(self._batch, float("nan"), dtype=self.probs.dtype))

    def _draw(self, shape):
        flat = self.probs.reshape(-1, self._num_events)
        n = int(np.prod(shape)) if shape else 1
        drawn = ops.multinomial(ops.stop_gradient(flat), n, True).astype(mindspore.int64)  # (batch, n)
        drawn = ops.transpose(drawn, (1, 0)).reshape(shape + self._batch)
        return drawn

    def log_prob(self, value):
        value = value.astype(mindspore.int64)
        logits = self.logits.broadcast_to(tuple(value.shape) + (self._num_events,))
        return ops.gather_elements(logits, -1, value.expand_dims(-1)).squeeze(-1)

    def entropy(self):
        return -(self.probs * self.logits).sum(-1)


class Bernoulli(_Distribution):
    """torch.distributions.Bernoulli(probs=None, logits=None): float 0/1 samples, log_prob and
    entropy as torch computes them (through the logits)."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give either probs or logits, not both")
        if probs is not None:
            self.probs = _as_float_tensor(probs)
            clamped = ops.clamp(self.probs, float(np.finfo(np.float32).eps), 1 - float(np.finfo(np.float32).eps))
            self.logits = ops.log(clamped) - ops.log1p(-clamped)
        else:
            self.logits = _as_float_tensor(logits)
            self.probs = ops.sigmoid(self.logits)
        self._batch = tuple(self.probs.shape)

    mean = property(lambda self: self.probs)
    variance = property(lambda self: self.probs * (1 - self.probs))

    def _draw(self, shape):
        return (ops.uniform(shape + self._batch, mindspore.Tensor(0.0), mindspore.Tensor(1.0))
                < self.probs).astype(self.probs.dtype)

    def log_prob(self, value):
        value = _as_float_tensor(value).astype(self.logits.dtype)
        return -ops.binary_cross_entropy_with_logits(self.logits, value, reduction="none")

    def entropy(self):
        return ops.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


def kl_divergence(p, q):
    """torch.distributions.kl_divergence for the pairs converted here (Normal, Categorical and
    Bernoulli with their own kind), torch's closed forms."""
    if isinstance(p, Normal) and isinstance(q, Normal):
        ratio = (p.scale / q.scale) ** 2
        return 0.5 * (ratio + ((p.loc - q.loc) / q.scale) ** 2 - 1 - ops.log(ratio))
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return (p.probs * (p.logits - q.logits)).sum(-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        return p.probs * (ops.softplus(-q.logits) - ops.softplus(-p.logits)) + (1 - p.probs) * (
            ops.softplus(q.logits) - ops.softplus(p.logits))
    raise NotImplementedError(f"kl_divergence({type(p).__name__}, {type(q).__name__}) is not converted")


__all__ += ["Normal", "Categorical", "Bernoulli", "kl_divergence"]


class SummaryWriter:
    """torch.utils.tensorboard.SummaryWriter for the scalars a training script logs: ``add_scalar``
    and ``add_scalars`` append ``tag,step,value,wall_time`` rows to ``<log_dir>/scalars.csv``
    (``log_dir`` defaults to torch's ``runs/<date>_<host><comment>``), read with any CSV tool or
    pandas; ``flush``/``close`` and ``with`` as torch's.  MindSpore's own SummaryRecord writes
    another format for MindInsight; images, histograms, graphs and embeddings are not written:
    those methods raise NotImplementedError rather than drop the data silently."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if log_dir is None:
            import datetime
            import socket
            stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        path = os.path.join(self.log_dir, f"scalars{filename_suffix}.csv")
        fresh = not os.path.exists(path)
        self._file = open(path, "a", encoding="utf-8")
        if fresh:
            self._file.write("tag,step,value,wall_time\n")

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        import time
        value = float(scalar_value.asnumpy() if isinstance(scalar_value, mindspore.Tensor) else scalar_value)
        step = "" if global_step is None else int(global_step)
        self._file.write(f"{tag},{step},{value!r},{time.time() if walltime is None else walltime}\n")

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        for tag, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{tag}", value, global_step, walltime)

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        if name.startswith("add_"):
            raise NotImplementedError(f"SummaryWriter.{name}: the helper writes scalars only (add_scalar, "
                                      "add_scalars); use mindspore.SummaryRecord for the rest")
        raise AttributeError(name)


__all__ += ["SummaryWriter"]


class GradScaler:
    """torch's GradScaler, for float32 training (see ``autocast``): no loss scaling is needed,
    so ``scale(loss)`` is the loss, ``step(optimizer)`` steps it, ``unscale_`` and ``update`` do
    nothing and the scale is 1.0 (torch's values for a disabled scaler).  A converted training
    step reads ``scaler.scale(loss).backward()`` as ``loss.backward()`` and ``scaler.step(opt)``
    as ``opt.step()``."""

    def __init__(self, *args, enabled=True, **kwargs):
        pass

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        return None

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        return None

    def get_scale(self):
        return 1.0

    def is_enabled(self):
        return False

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        return None


__all__ += ["autocast", "GradScaler"]


def forward_of(x, *args, **kwargs):
    """torch's ``module.forward(...)`` on something the tool could not type: a Cell's ``construct``
    (its forward computation, called directly as torch's ``forward`` is); any other object's own
    ``.forward`` is called."""
    if isinstance(x, nn.Cell):
        return x.construct(*args, **kwargs)
    return x.forward(*args, **kwargs)


def numpy_of(x, *args, **kwargs):
    """torch's ``x.numpy()`` on something the tool could not type: a MindSpore tensor's
    ``asnumpy()``; any other object's own ``.numpy`` is called."""
    if isinstance(x, mindspore.Tensor) and not args and not kwargs:
        return x.asnumpy()
    return x.numpy(*args, **kwargs)


__all__ += ["forward_of", "numpy_of"]


def parameters_of(x, *args, **kwargs):
    """torch's ``module.parameters()`` on something the tool could not type: a Cell's
    ``module_parameters`` (as the typed conversion); any other object's own ``.parameters``."""
    if isinstance(x, nn.Cell):
        return module_parameters(x, *args, **kwargs)
    return x.parameters(*args, **kwargs)


def named_parameters_of(x, *args, **kwargs):
    """torch's ``module.named_parameters()`` on something the tool could not type: a Cell's
    ``module_named_parameters`` (as the typed conversion); any other object's own
    ``.named_parameters``."""
    if isinstance(x, nn.Cell):
        return module_named_parameters(x, *args, **kwargs)
    return x.named_parameters(*args, **kwargs)


def argmax_of(x, *args, **kwargs):
    """torch's ``x.argmax(dim, keepdim)`` on something the tool could not type: a MindSpore tensor
    through ``ops.argmax`` (as the typed conversion); any other object (a numpy array, whose
    argument is ``axis``) its own ``.argmax``."""
    if not isinstance(x, mindspore.Tensor):
        return x.argmax(*args, **kwargs)
    dim = args[0] if args else kwargs.get("dim")
    keepdim = args[1] if len(args) > 1 else kwargs.get("keepdim", False)
    return ops.argmax(x, dim, keepdim)


__all__ += ["named_parameters_of", "argmax_of"]


def zero_grad_of(x, *args, **kwargs):
    """torch's ``.zero_grad()`` on something the tool could not type: a Cell's parameters forget
    their gradients (``zero_grad``); an optimizer (this module's, or any other object) runs its
    own ``.zero_grad``."""
    if isinstance(x, nn.Cell):
        return zero_grad(x)
    return x.zero_grad(*args, **kwargs)


__all__ += ["size_of", "train_mode", "eval_mode", "parameters_of", "zero_grad_of"]

def state_dict_of(x, *args, **kwargs):
    """torch's ``.state_dict()`` on something the tool could not type: a Cell's parameters by name
    (``parameters_dict``, buffers included); an optimizer or scheduler (this module's, or any
    other object) gives its own."""
    if isinstance(x, nn.Cell):
        return x.parameters_dict()
    return x.state_dict(*args, **kwargs)


def load_state_dict_of(x, state_dict, *args, **kwargs):
    """torch's ``.load_state_dict(sd)`` on something the tool could not type: into a Cell as
    ``load_state_dict`` does; any other object (an optimizer, a scheduler) loads it itself."""
    if isinstance(x, nn.Cell):
        return load_state_dict(x, state_dict, *args, **kwargs)
    return x.load_state_dict(state_dict, *args, **kwargs)


__all__ += ["state_dict_of", "load_state_dict_of"]


def untyped_method(x, name, helper, *args, **kwargs):
    """torch's ``x.<name>(...)`` where the tool could not tell what ``x`` is: a MindSpore tensor
    goes through ``helper`` (the table's conversion of that tensor method, which takes torch's
    arguments), any other object (a numpy array, a pandas Series) runs its own method."""
    if isinstance(x, mindspore.Tensor):
        return helper(x, *args, **kwargs)
    return getattr(x, name)(*args, **kwargs)


__all__ += ["untyped_method"]


def optimizer_parameters(optimizer):
    """The parameters a training step differentiates, for an optimizer whose type the tool could
    not tell (``opt.zero_grad()``, ``loss.backward()``, ``opt.step()`` on ``opt = self.optim``):
    a converted optimizer's (or MindSpore's own) ``parameters``; anything else is refused here,
    before a wrong set of parameters is differentiated."""
    if isinstance(optimizer, (Optimizer, nn.Optimizer)):
        return optimizer.parameters
    raise TypeError(f"the training step's optimizer is a {type(optimizer).__name__}, not an optimizer of the "
                    "converted program: pass the parameters to differentiate to value_and_grad yourself")


__all__ += ["optimizer_parameters"]


def zero_grad_parameters(x):
    """The parameters a training step differentiates when the nearest ``x.zero_grad()`` before
    its ``loss.backward()`` is on something the tool could not type and no ``step()`` follows
    (PyTorch's word_language_model: ``model.zero_grad()``, ``loss.backward()``, then an SGD
    update written by hand): a Cell's trainable parameters, or an optimizer's; anything else is
    refused here, before a wrong set of parameters is differentiated."""
    if isinstance(x, nn.Cell):
        return x.trainable_params()
    if isinstance(x, (Optimizer, nn.Optimizer)):
        return x.parameters
    raise TypeError(f"the training step's zero_grad() is called on a {type(x).__name__}, neither a Cell nor an "
                    "optimizer of the converted program: pass the parameters to differentiate to value_and_grad yourself")


__all__ += ["zero_grad_parameters"]


def grad_of(loss_fn, inputs, has_aux=False):
    """``torch.autograd.grad(loss, inputs)`` with the statements computing ``loss`` as
    ``loss_fn`` (no arguments; with ``has_aux`` it returns ``(loss, *values)``): returns the
    loss (or that tuple) and the tuple of gradients, one per input.  Every input must be a
    Parameter: MindSpore's ``value_and_grad`` differentiates with respect to Parameters and
    gives a silent zero for any other tensor (measured in 2.10), such as MAML's fast weights
    computed from the parameters."""
    inputs = list(inputs)
    plain = [i for i, p in enumerate(inputs) if not isinstance(p, mindspore.Parameter)]
    if plain:
        raise TypeError(f"torch.autograd.grad with respect to inputs {plain} that are not Parameters: MindSpore "
                        "differentiates a function with respect to its Parameters or its arguments; make those "
                        "tensors arguments of the loss function and use mindspore.grad(fn, grad_position=...)")
    return mindspore.value_and_grad(loss_fn, None, inputs, has_aux=has_aux)()


__all__ += ["grad_of"]


try:  # MindSpore's own torch-style custom gradient (private in 2.10, added in 2.6)
    from mindspore.common import _Function as _MindSporeFunction
except ImportError:  # pragma: no cover - an older MindSpore
    _MindSporeFunction = None


class Function(_MindSporeFunction or object):
    """torch.autograd.Function: subclass it with static ``forward(ctx, *inputs)`` and
    ``backward(ctx, *grad_outputs)`` (one gradient or None per input) and call ``apply``.
    MindSpore 2.10 implements torch's API itself (``mindspore.common._Function``: ``ctx`` with
    ``save_for_backward``/``saved_tensors``, ``needs_input_grad``, ``mark_non_differentiable``,
    ``mark_dirty``, ``set_materialize_grads``); it runs in PyNative only, which is why
    ``python -m migrate`` leaves a construct that applies one uncompiled.  ``apply`` also takes
    keyword arguments, bound to ``forward``'s parameters as torch does."""

    @classmethod
    def apply(cls, *args, **kwargs):
        if _MindSporeFunction is None:
            raise NotImplementedError(f"{cls.__name__}.apply: this MindSpore has no custom autograd Function "
                                      "(mindspore.common._Function, 2.6 and later); write the gradient as a "
                                      "Cell with a bprop method")
        if kwargs:  # MindSpore's apply takes positional arguments only
            bound = inspect.signature(cls.forward).bind(None, *args, **kwargs)
            bound.apply_defaults()
            args = bound.args[1:]
        return super().apply(*args)

    def save_for_backward(self, *values):
        """torch saves any tensor, a sparse one too; MindSpore's ``save_for_backward`` takes
        tensors and None only, so other objects (the helper's SparseTensor) are kept here and put
        back in their places when ``saved_tensors`` is read."""
        objects = {i: v for i, v in enumerate(values) if v is not None and not isinstance(v, mindspore.Tensor)}
        object.__setattr__(self, "_saved_objects", objects)
        super().save_for_backward(*(None if i in objects else v for i, v in enumerate(values)))

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if name == "saved_tensors":
            objects = object.__getattribute__(self, "__dict__").get("_saved_objects")
            if objects:
                value = tuple(objects.get(i, v) for i, v in enumerate(value))
        return value


def once_differentiable(backward):
    """torch.autograd.function.once_differentiable: marks a ``backward`` that is not itself
    differentiated; MindSpore never differentiates a Function's backward, so it is kept as it is."""
    return backward


__all__ += ["Function", "once_differentiable"]


def _refuse_generator(generator):
    if generator is not None:
        raise NotImplementedError("generator=: MindSpore draws from its global seed (mindspore.set_seed)")


def inplace_zero(x):
    """torch's ``x.zero_()`` on something the tool could not type: a MindSpore tensor (a
    Parameter, ``p.grad``) is zeroed in place (``zeros_``, through ``assign_data``: 2.10 has no
    CPU kernel for ``zero_``) and returned; any other object's own ``.zero_`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.zero_()
    return zeros_(x)


def inplace_fill(x, value):
    """torch's ``x.fill_(value)`` on something the tool could not type (see ``inplace_zero``)."""
    if not isinstance(x, mindspore.Tensor):
        return x.fill_(value)
    return constant_(x, value)


def inplace_normal(x, mean=0.0, std=1.0, *, generator=None):
    """torch's ``x.normal_(mean, std)`` on something the tool could not type: a MindSpore tensor
    is overwritten in place as ``nn.init.normal_`` does (the same distribution, drawn from
    MindSpore's random stream); any other object's own ``.normal_`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.normal_(mean, std) if generator is None else x.normal_(mean, std, generator=generator)
    _refuse_generator(generator)
    return normal_(x, mean, std)


def inplace_uniform(x, *args, generator=None, **kwargs):
    """torch's ``x.uniform_(a, b)`` (``from``/``to``, default 0 and 1) on something the tool could
    not type: a MindSpore tensor is overwritten in place as ``nn.init.uniform_`` does; any
    other object's own ``.uniform_`` is called."""
    if not isinstance(x, mindspore.Tensor):
        return x.uniform_(*args, **kwargs) if generator is None else x.uniform_(*args, generator=generator, **kwargs)
    _refuse_generator(generator)
    bounds = dict(zip(("from", "to"), args))
    bounds.update(kwargs)
    return uniform_(x, bounds.get("from", 0.0), bounds.get("to", 1.0))


__all__ += ["inplace_zero", "inplace_fill", "inplace_normal", "inplace_uniform"]


# --------------------------------------------------------------------------
# constructs compiled per instance, while instances are reused

#: a class's first instances compile their construct whatever their use
FIRST_COMPILED_INSTANCES = 2
#: calls per instance (on average so far, or of one instance) that pay for a construct's compilation
CALLS_PER_COMPILE = 16


class _ConstructUse:
    """Which instances of one class run its construct compiled: mindspore.jit compiles a
    construct once per instance (measured in MindSpore 2.10: ~90 ms for a 3x3 Dense and a
    softmax, against ~5 ms for one call in PyNative), so code that makes a module anew for every
    call (the MAMO authors' ``Attention(n_k)`` in every memory read) would compile at every
    call.  The first instances compile; a later one compiles when instances so far were called
    ``CALLS_PER_COMPILE`` times each on average, or once it has been called that often itself;
    until then it runs in PyNative (the same construct, op by op)."""

    def __init__(self):
        self.compiled = weakref.WeakSet()
        self.pynative = weakref.WeakKeyDictionary()  # instance -> its calls so far
        self.instances = 0
        self.calls = 0
        self.states = weakref.WeakKeyDictionary()  # compiled instance -> [tokens, calls, last named state]
        self.broken = None  # the compiler's first error line once the construct failed to compile

    def state_token(self, cell, construct):
        """The token of ``cell``'s attribute state for its graph's name, or None once its states
        change too often to compile (then it runs in PyNative: one warning)."""
        token = _state_token(_cell_state(cell))
        seen = self.states.get(cell)
        if seen is None:
            seen = self.states[cell] = [set(), 0, None]
        tokens, calls, last = seen
        seen[1] = calls + 1
        if token in tokens:
            return token
        if len(tokens) >= MAX_CELL_STATES and 4 * len(tokens) > seen[1]:
            self.compiled.discard(cell)
            self.pynative[cell] = -(1 << 62)  # never compiled again
            changed = _changed_attributes(cell, last) if last is not None else []
            code = construct.__code__
            warnings.warn(f"{code.co_filename}:{code.co_firstlineno}: {type(cell).__name__}.construct runs "
                          f"uncompiled (PyNative) from now on for this instance: its attributes "
                          f"{', '.join(changed) or '(plain values)'} keep changing between calls, and a compiled "
                          "graph keeps the values it was compiled with", RuntimeWarning, stacklevel=4)
            return None
        tokens.add(token)
        seen[2] = _cell_state(cell, named=True)
        return token

    def compiles(self, cell):
        self.calls += 1
        if cell in self.compiled:
            return True
        calls = self.pynative.get(cell)
        if calls is None:
            self.instances += 1
            if self.instances <= FIRST_COMPILED_INSTANCES or self.calls >= CALLS_PER_COMPILE * self.instances:
                self.compiled.add(cell)
                return True
            calls = 0
        if calls + 1 >= CALLS_PER_COMPILE:
            del self.pynative[cell]
            self.compiled.add(cell)
            return True
        self.pynative[cell] = calls + 1
        return False


#: the plain attribute values (numbers, strings, flags, short tuples of them) a graph was
#: compiled for, across the Cells of a tree: ``_cell_state`` -> a small token for its phase name
_STATE_TOKENS = {}
_PLAIN_TYPES = frozenset((bool, int, float, str, type(None)))
#: a tuple or list attribute longer than this is not part of a Cell's state (too long to compare)
_STATE_SEQUENCE_MAX = 64
#: distinct attribute states of one Cell compiled before its construct may fall back to PyNative
MAX_CELL_STATES = 8


def _plain_state_value(value):
    """``value`` as part of a Cell's state key, or ``_NOT_STATE``."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if (kind is tuple or kind is list) and len(value) <= _STATE_SEQUENCE_MAX \
            and all(type(v) in _PLAIN_TYPES for v in value):
        return (kind, tuple(value))
    return _NOT_STATE


_NOT_STATE = object()


def _cell_state(cell, named=False, closure=frozenset()):
    """The attribute values of ``cell`` and the Cells in it that a compiled graph of its
    construct may have taken as constants, in a fixed order (with their names where ``named``;
    ``closure``: the attribute names a training step's loss closure reads, whose methods of
    ``cell`` the graph compiles too).  MindSpore 2.10 compiles a construct once per instance
    and keeps the values its attributes had then (measured: a temperature ``self.tau`` changed between calls, or a tensor
    ``self.adj`` replaced, left the compiled output as it was), so ``jit_construct`` and
    ``compiled_value_and_grad`` key their graphs on this state.

    Counted: ``training``; every plain value (number, string, flag, short tuple of them) of a
    Cell of MindSpore's or of this helper's; and of the other Cells the plain values, and the
    tensors and numpy arrays (by identity), held under a name the compiled code reads
    (``_class_reads``: the methods and module functions it calls, the sub-Cells' constructs).  A step counter the loop keeps on the model, or a tensor only
    another method reads, compiles nothing.  Not seen: a tensor changed in place, a value read
    through a computed ``getattr`` or by code in another module."""
    cells = []
    _cells_in(cell, "", cells, 0)
    types = tuple(type(c) for _, c in cells)
    read = _TREE_READS.get((types, closure), _NOT_STATE)
    if read is _NOT_STATE:
        read = _tree_reads(types, ("construct", *sorted(closure)))
        read = _TREE_READS[(types, closure)] = None if read is None else read | closure
    out = []
    for prefix, c in cells:
        own = _own_class(type(c))
        for name, value in vars(c).items():
            if name in _CELL_BOOKKEEPING:
                continue
            if own or name == "training" or read is None:  # read None: some source unreadable
                key = _plain_state_value(value)
            elif name in read:
                key = _plain_state_value(value)
                if key is _NOT_STATE and isinstance(value, (mindspore.Tensor, np.ndarray)) \
                        and not isinstance(value, mindspore.Parameter):
                    key = _Identity(value)
            else:
                continue
            if key is not _NOT_STATE:
                out.append((prefix + name, key) if named else key)
    return tuple(out)


class _Identity:
    """A tensor or array in a state key: equal only to itself (a tensor's ``==`` is
    elementwise), and held, so that its id is not reused by a later object while keyed."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self):
        return id(self.value)

    def __repr__(self):
        return f"<{type(self.value).__name__} at {id(self.value):#x}>"


def _own_class(cls):
    """A class of MindSpore's or of this helper's (all of whose plain attributes count: they hold
    settings, not values a training loop changes), or a builtin."""
    module = cls.__module__
    return module.startswith("mindspore.") or module in (__name__, "builtins")


def _cells_in(cell, prefix, out, depth):
    out.append((prefix, cell))
    if depth < 32:
        for name, child in vars(cell).get("_cells", {}).items():
            if child is not None:
                _cells_in(child, f"{prefix}{name}.", out, depth + 1)


#: (the classes of a Cell tree, the names a loss closure reads) -> the attribute names their
#: compiled code reads (None: some source could not be read)
_TREE_READS = {}
_CLASS_READS = {}
_MODULE_FUNCTIONS = {}


def _tree_reads(types, entries):
    names = set()
    for i, cls in enumerate(dict.fromkeys(types)):
        if _own_class(cls):
            continue
        read = _class_reads(cls, entries if i == 0 else ("construct",))
        if read is None:
            return None
        names |= read
    return frozenset(names)


def _class_reads(cls, entries):
    """The attribute names (``x.name`` loaded, ``getattr(x, "name")``) in the code a graph
    compiles from ``cls``'s ``entries`` methods: those methods, the methods of ``cls`` they call
    on ``self`` and the functions of their module they call, transitively; None when some
    source cannot be read."""
    key = (cls, entries)
    if key in _CLASS_READS:
        return _CLASS_READS[key]
    methods = {}
    try:
        for klass in reversed(cls.__mro__):  # a subclass's method replaces its base's
            if not issubclass(klass, nn.Cell) or _own_class(klass):
                continue
            tree = ast.parse(_dedented(inspect.getsource(klass)))
            for node in tree.body[0].body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    methods[node.name] = (node, klass.__module__)
    except (TypeError, OSError, SyntaxError, IndexError, AttributeError):
        _CLASS_READS[key] = None
        return None
    names, seen = set(), set()
    work = [methods[e] for e in entries if e in methods]
    while work:
        node, module = work.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        functions = _module_functions(module)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
                names.add(sub.attr)
                if isinstance(sub.value, ast.Name) and sub.value.id == "self" and sub.attr in methods:
                    work.append(methods[sub.attr])
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in functions:
                work.append((functions[sub.id], module))
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in ("getattr", "hasattr") \
                    and len(sub.args) > 1 and isinstance(sub.args[1], ast.Constant) and isinstance(sub.args[1].value, str):
                names.add(sub.args[1].value)
    _CLASS_READS[key] = frozenset(names)
    return _CLASS_READS[key]


def _dedented(source):
    """A nested class's source with its first line's indent removed from every line."""
    lines = source.splitlines()
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] if line[:indent].isspace() or not line[:indent] else line for line in lines)


def _module_functions(module_name):
    """``module_name``'s top-level functions by name (their AST), {} when its source cannot be read."""
    if module_name not in _MODULE_FUNCTIONS:
        functions = {}
        try:
            tree = ast.parse(inspect.getsource(sys.modules[module_name]))
            functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        except (KeyError, TypeError, OSError, SyntaxError):
            pass
        _MODULE_FUNCTIONS[module_name] = functions
    return _MODULE_FUNCTIONS[module_name]


def _state_token(state):
    token = _STATE_TOKENS.get(state)
    if token is None:
        token = _STATE_TOKENS[state] = len(_STATE_TOKENS)
    return token


def _changed_attributes(cell, old_named):
    """The names of ``cell``'s plain attributes whose values differ from ``old_named``."""
    now = dict(_cell_state(cell, named=True))
    before = dict(old_named)
    return sorted(name for name in now.keys() | before.keys() if now.get(name, _NOT_STATE) != before.get(name, _NOT_STATE))


try:
    from mindspore.common.api import _pynative_executor as _PYNATIVE
except ImportError:  # pragma: no cover - another MindSpore layout
    _PYNATIVE = None


def _grad_recording_with_tensor_sequence(args, kwargs):
    """Is a PyNative gradient being recorded (a ``value_and_grad`` the helper runs uncompiled)
    while a tuple or list of tensors is passed?  MindSpore 2.10 then mixes up the gradients of
    the weights when a compiled construct takes such a sequence holding a tensor made by
    ``ops.stop_gradient`` (an LSTM's detached ``(h, c)``): the first weight's gradient is
    dropped and the rest shift by one, without an error (measured; ``mindspore.mutable`` does
    not help).  ``jit_construct`` runs the construct uncompiled for such a call."""
    if _PYNATIVE is None or not _PYNATIVE.requires_grad():
        return False
    for value in (*args, *kwargs.values()):
        if isinstance(value, (tuple, list)) and any(isinstance(v, mindspore.Tensor) for v in value):
            return True
    return False


def jit_construct(construct):
    """``@mindspore.jit`` for a converted ``construct`` (what ``python -m migrate`` emits where it
    found the construct pure): each instance's construct is compiled as mindspore.jit compiles
    it, except instances of a class that is made anew faster than its instances are used, which
    run in PyNative (see ``_ConstructUse``).  Inside another compiled graph (a parent's
    construct, a compiled training step) MindSpore compiles the undecorated construct as part
    of that graph, as it does under mindspore.jit.  ``MS_JIT=0`` runs everything in PyNative.

    MindSpore compiles a graph once per instance with its attribute values of that moment; torch
    reads them at every call.  So each instance's graphs are also keyed on the attribute values
    its compiled code reads, its sub-Cells' too (``_cell_state``: a temperature, a flag,
    ``training``, a tensor held as ``self.adj`` by identity): a changed value compiles a graph
    for it (MindSpore keeps the others), and an instance that keeps needing new ones (more than
    ``MAX_CELL_STATES`` states, more than one call in four) runs in PyNative from then on, with
    one warning naming the attributes that changed.  A tensor changed in place is not seen: the
    graph keeps reading the one it was compiled with.

    A construct whose graph does not compile (a Python feature MindSpore's graph syntax lacks,
    in the construct or in what it calls) runs in PyNative from then on, for every instance,
    with one warning giving the compiler's first line.  An error the code itself raises (a
    failed shape check, which MindSpore may raise while compiling) is raised from the PyNative
    run, and the construct stays compiled."""
    compiled = mindspore.jit(construct)
    use = _ConstructUse()

    # wraps(compiled): MindSpore reads a construct's parameters through its __signature__ (which
    # mindspore.jit sets); without it, `*args` made a construct parameter named like one of the
    # Cell's Parameters fail to compile (measured: LocalLearner's item_multi)
    @functools.wraps(compiled)
    def run(self, *args, **kwargs):
        if use.broken is not None or not use.compiles(self) or _grad_recording_with_tensor_sequence(args, kwargs):
            return construct(self, *args, **kwargs)
        token = use.state_token(self, construct)
        if token is None:
            return construct(self, *args, **kwargs)
        # MindSpore names an instance's graph after its phase (what set_train changes), so a
        # phase carrying the state token compiles, and later finds, the graph of that state
        saved = self._phase
        object.__setattr__(self, "_phase", f"{saved}.{token}")
        try:
            return compiled(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - run in PyNative: the code's own error raises there again
            failure = exc
        finally:
            object.__setattr__(self, "_phase", saved)
        result = construct(self, *args, **kwargs)  # raises what the code itself raises (a shape check)
        if use.broken is None:  # PyNative ran it: the graph, not the code, failed
            use.broken = _first_error_line(failure)
            code = construct.__code__
            warnings.warn(f"{code.co_filename}:{code.co_firstlineno}: {type(self).__name__}.construct runs "
                          f"uncompiled (PyNative) from now on: it does not compile: {use.broken}",
                          RuntimeWarning, stacklevel=2)
        return result

    run._construct_use = use
    return run


__all__ += ["jit_construct"]


#: the sets of Parameter ids that the calls being watched (``_ParameterReads``) read
_READ_LOGS = []
_CELL_GETATTR = nn.Cell.__getattr__
_CELL_PARAMETERS_AND_NAMES = nn.Cell.parameters_and_names
#: a Cell call's own checks, which list every Parameter of the Cell (not a read of the loss's)
_CELL_CHECKS = {name: getattr(nn.Cell, name) for name in ("_init_check", "_self_check") if hasattr(nn.Cell, name)}
_QUIET = [0]


def _note_read(value):
    """A Parameter (or a ParameterTuple attribute) read while calls are watched."""
    if not _QUIET[0]:
        for log in _READ_LOGS:
            _note_into(log, value)


def _watched_getattr(self, name):
    value = _CELL_GETATTR(self, name)
    _note_read(value)
    return value


def _watched_parameters_and_names(self, *args, **kwargs):
    for name, param in _CELL_PARAMETERS_AND_NAMES(self, *args, **kwargs):
        _note_read(param)
        yield name, param


def _quiet(check):
    def run(self, *args, **kwargs):
        _QUIET[0] += 1
        try:
            return check(self, *args, **kwargs)
        finally:
            _QUIET[0] -= 1
    return run


_QUIET_CHECKS = {name: _quiet(check) for name, check in _CELL_CHECKS.items()}


class _ParameterReads:
    """Within ``with _ParameterReads(fn, args) as reads``: the ids of the Parameters the code
    reads (``reads``), so that a loss's gradient for a Parameter it never reached can be None, as
    torch's ``.grad`` stays (the optimizers then skip it: no weight decay, no moment update),
    where MindSpore's ``value_and_grad`` gives zeros.  Counted as read: a Parameter taken from a
    Cell's attributes (``self.weight``, ``getattr(cell, name)``, a ParameterTuple) or its
    ``parameters()``, in PyNative or while a graph is parsed (the parser reads every attribute
    it meets, dead branches' too: more than torch would count, never fewer); one passed in
    ``args`` or named by ``fn``'s globals and closure.  Whatever else reaches a Parameter (a
    plain Python object holding it) is unseen here, so callers drop only gradients that are
    also exactly zero (``_unreached_as_none``)."""

    def __init__(self, fn=None, args=()):
        self.reads = set()
        for value in args:
            _note_into(self.reads, value)
        code = getattr(fn, "__code__", None)
        if code is not None:
            scope = getattr(fn, "__globals__", {})
            for name in code.co_names:
                if name in scope:
                    _note_into(self.reads, scope[name])
            for cell in getattr(fn, "__closure__", None) or ():
                try:
                    _note_into(self.reads, cell.cell_contents)
                except ValueError:  # an empty closure cell
                    pass

    def __enter__(self):
        if not _READ_LOGS:
            nn.Cell.__getattr__ = _watched_getattr
            nn.Cell.parameters_and_names = _watched_parameters_and_names
            for name, check in _QUIET_CHECKS.items():
                setattr(nn.Cell, name, check)
        _READ_LOGS.append(self.reads)
        return self.reads

    def __exit__(self, *exc):
        _READ_LOGS.remove(self.reads)
        if not _READ_LOGS:
            nn.Cell.__getattr__ = _CELL_GETATTR
            nn.Cell.parameters_and_names = _CELL_PARAMETERS_AND_NAMES
            for name, check in _CELL_CHECKS.items():
                setattr(nn.Cell, name, check)
        return False


def _note_into(reads, value):
    """Add the Parameters ``value`` is or holds (in a tuple or list) to ``reads``."""
    if isinstance(value, mindspore.Parameter):
        reads.add(id(value))
    elif isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, mindspore.Parameter):
                reads.add(id(item))


def _unreached_as_none(weights, grads, reads):
    """``grads`` with None for each weight outside ``reads`` whose gradient is exactly zero
    (torch's ``.grad`` of a Parameter the loss never reached), and for each frozen weight
    (``requires_grad`` False: torch leaves its ``.grad`` alone, MindSpore's value_and_grad
    differentiates every weight it is given)."""
    grads = tuple(grads)
    if all(id(p) in reads and p.requires_grad for p in weights):
        return grads
    out = list(grads)
    for i, p in enumerate(weights):
        if not p.requires_grad:
            out[i] = None
        elif id(p) not in reads and isinstance(out[i], mindspore.Tensor) and not out[i].asnumpy().any():
            out[i] = None
    return tuple(out)


def _with_unreached_as_none(result, weights, reads):
    """A ``value_and_grad`` result (value, gradients) with ``_unreached_as_none`` applied."""
    value, grads = result
    return value, _unreached_as_none(weights, grads, reads)


#: compiled_value_and_grad: per loss function (its code object), a _StepGraphs, or None once
#: it runs uncompiled (PyNative)
_COMPILED_STEPS = {}
#: graphs kept per loss function (the least recently used goes first: it holds its constants)
MAX_STEP_GRAPHS = 16


class _StepGraphs:
    """One loss function's compiled graphs, by constant arguments, least recently used first."""

    def __init__(self):
        self.graphs = OrderedDict()
        self.calls = 0
        self.compiles = 0

    def thrashing(self):
        """Compiling at more than one call in four, past the first MAX_STEP_GRAPHS graphs: a
        constant that keeps changing (a float annealed every step, objects made anew for every
        call), for which compiling costs more than it saves."""
        return self.compiles >= MAX_STEP_GRAPHS and 4 * self.compiles > self.calls


def _step_const_key(value, reads=frozenset()):
    """A hashable key for a constant argument of a compiled step (None: it cannot be one);
    ``reads``: the attribute names the loss closure reads (``_closure_reads``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value), value)
    if isinstance(value, tuple):
        keys = tuple(_step_const_key(v, reads) for v in value)
        return None if any(k is None for k in keys) else (tuple, keys)
    if isinstance(value, mindspore.Parameter):
        return ("parameter", id(value))  # the graph reads its current value
    if isinstance(value, nn.Cell):
        shape = _stateless_cell_key(value)
        if shape is not None:
            return ("stateless cell", shape)
        # its attribute values (training too) that the graph reads, through construct or the
        # methods the closure calls on it
        return ("cell", id(value), _state_token(_cell_state(value, closure=reads)))
    if isinstance(value, (list, dict, set, np.ndarray, mindspore.Tensor, _HostObject)):
        return None  # contents a graph would freeze (tensors in a list, an array, a SparseTensor...)
    if any(isinstance(v, (mindspore.Parameter, nn.Cell)) for v in getattr(value, "__dict__", {}).values()):
        return None  # a graph takes what an object holds as constants: no gradient through its Parameters
    return ("object", id(value))


#: a Cell's own bookkeeping (every attribute a bare nn.Cell has, and those its first call adds),
#: different in every instance or changed by calls; parameters and cells are checked separately
_CELL_BOOKKEEPING = (frozenset(vars(nn.Cell())) | {"__parse_method__", "_mutable_flags"}) - {"training"}


_CLOSURE_READS = {}


def _closure_reads(fn):
    """The attribute names a loss closure's own code reads (``model.tau``, ``model.encode``):
    empty when its source cannot be read."""
    code = fn.__code__
    names = _CLOSURE_READS.get(code)
    if names is None:
        try:
            tree = ast.parse(_dedented(inspect.getsource(fn)))
            names = frozenset(n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load))
        except (TypeError, OSError, SyntaxError, IndexError):
            names = frozenset()
        _CLOSURE_READS[code] = names
    return names


def _stateless_cell_key(cell, depth=0):
    """A key for a Cell with no Parameters or buffers anywhere in it (a loss, an activation, a
    Sequential of them) made of its class and attribute values, so that such a Cell made anew
    for every task or step (``self.loss_fn = nn.CrossEntropyLoss()`` in a per-user object)
    reuses the graph compiled for an equal one instead of compiling its own; None where it
    holds Parameters, tensors or values it cannot compare (then it is keyed by identity)."""
    state = vars(cell)
    if depth > 8 or state.get("_params") or state.get("_params_list") or state.get("_buffers"):
        return None
    items = []
    for name in sorted(state):
        if name in _CELL_BOOKKEEPING:
            continue
        key = _plain_value_key(state[name], depth)
        if key is None:
            return None
        items.append((name, key))
    for name, child in state.get("_cells", {}).items():
        key = None if child is None else _stateless_cell_key(child, depth + 1)
        if child is not None and key is None:
            return None
        items.append(("cell " + name, key))
    return (type(cell), tuple(items))


def _plain_value_key(value, depth):
    """A hashable key for an attribute value of a stateless Cell, by value (None: not comparable)."""
    if value is None or isinstance(value, (bool, int, float, str, type)):
        return (type(value), value)
    if isinstance(value, (tuple, list)):
        keys = tuple(_plain_value_key(v, depth) for v in value)
        return None if any(k is None for k in keys) else (type(value), keys)
    if isinstance(value, dict):
        keys = tuple((k, _plain_value_key(v, depth)) for k, v in value.items())
        return None if any(k[1] is None or not isinstance(k[0], str) for k in keys) else (type(value), keys)
    if isinstance(value, nn.Cell):
        return _stateless_cell_key(value, depth + 1)
    if isinstance(value, ops.Primitive):
        attrs = _plain_value_key(dict(value.attrs), depth)
        return None if attrs is None else (type(value), attrs)
    if isinstance(value, mindspore.Tensor):
        return None  # a tensor the graph would freeze: keyed by identity instead
    return None


def _step_graph(fn, weights, has_aux, inputs):
    """``mindspore.jit(value_and_grad)`` of ``fn`` called with the constants it was specialised
    for (``inputs[i]`` None) and the tensors it is given, in ``fn``'s argument order."""
    slots = tuple(c is None for c in inputs)

    def step(*tensors):
        args, k = [], 0
        for i in range(len(slots)):
            if slots[i]:
                args.append(tensors[k])
                k += 1
            else:
                args.append(inputs[i][0])
        return fn(*args)

    return mindspore.jit(mindspore.value_and_grad(step, None, weights, has_aux=has_aux))


def compiled_value_and_grad(fn, weights, has_aux=False):
    """``mindspore.value_and_grad(fn, None, weights, has_aux)`` compiled with ``mindspore.jit``
    (a training step's forward and backward as one graph), with PyNative as the fallback.
    Measured (``bench/helpers.py``): a three-layer MLP batched over one user, 1.4 ms against
    11 ms in PyNative; MAMO's local step, whose construct is compiled already, ~1.5 ms
    against ~4.5 ms.

    ``python -m migrate`` emits it for a loss closure whose statements it found pure (no
    ``.item()``, no printing, no writes to attributes, lists or tensors): every name the
    closure reads from outside is an argument, and attribute values it reads (``self.cfg.lr``)
    are arguments of their own.  At each call, tensor arguments are the graph's inputs; the
    others are constants of a graph compiled for them (numbers and strings by value,
    Parameters, Cells (and their ``training`` flag) and other objects by identity, but a Cell
    with no Parameters or buffers, a loss made anew for every task, by its class and attribute
    values); what the
    graph reads through a constant object's methods is read when it is compiled, as in any
    ``mindspore.jit`` function.  A closure whose graph does not compile (a Python feature
    graph mode lacks), or that keeps needing new graphs (``_StepGraphs.thrashing``), or is called
    with a list, dict or array argument, runs in PyNative from then on, with one warning naming
    it.  ``MS_JIT=0`` (MindSpore's switch) runs every ``mindspore.jit`` in PyNative, these
    steps too."""
    weights = list(weights)

    def call(*args):
        code = fn.__code__
        if code not in _COMPILED_STEPS:
            _COMPILED_STEPS[code] = _StepGraphs()
        cache = _COMPILED_STEPS[code]
        if cache is None:
            return _pynative_step(fn, weights, has_aux, args)
        inputs, key = [], [tuple(id(p) for p in weights), has_aux]
        closure = _closure_reads(fn)
        for a in args:
            if isinstance(a, mindspore.Tensor) and not isinstance(a, mindspore.Parameter):
                inputs.append(None)
                key.append("input")
                continue
            const = _step_const_key(a, closure)
            if const is None:
                return _uncompiled(fn, weights, has_aux, args, f"an argument of type {type(a).__name__}")
            inputs.append((a,))
            key.append(const)
        key = tuple(key)
        tensors = [a for a, c in zip(args, inputs) if c is None]
        cache.calls += 1
        entry = cache.graphs.get(key)  # [graph, the Parameters its first call read]
        if entry is not None:
            cache.graphs.move_to_end(key)
        elif cache.thrashing():
            return _uncompiled(fn, weights, has_aux, args, f"{cache.compiles} graphs in {cache.calls} calls "
                               "(constant arguments that keep changing)")
        else:
            entry = [_step_graph(fn, weights, has_aux, inputs), None]
            cache.compiles += 1
            cache.graphs[key] = entry
            if len(cache.graphs) > MAX_STEP_GRAPHS:
                cache.graphs.popitem(last=False)
        graph, reads = entry
        try:
            if reads is None:  # the first call compiles: the parser reads what the graph uses
                with _ParameterReads(fn, args) as reads:
                    result = graph(*tensors)
                entry[1] = reads
            else:
                result = graph(*tensors)
        except Exception as exc:  # noqa: BLE001 - a graph that does not compile (new input shapes compile
            # again): PyNative from now on, which raises the error itself if it is the code's own
            return _uncompiled(fn, weights, has_aux, args, f"it does not compile: {_first_error_line(exc)}")
        return _with_unreached_as_none(result, weights, reads)

    return call


def _first_error_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.startswith("-")]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _uncompiled(fn, weights, has_aux, args, why):
    code = fn.__code__
    _COMPILED_STEPS[code] = None
    warnings.warn(f"{code.co_filename}:{code.co_firstlineno}: {fn.__name__} runs uncompiled (PyNative) from now "
                  f"on: {why}", RuntimeWarning, stacklevel=3)
    return _pynative_step(fn, weights, has_aux, args)


def _pynative_step(fn, weights, has_aux, args):
    with _ParameterReads(fn, args) as reads:
        result = mindspore.value_and_grad(fn, None, weights, has_aux=has_aux)(*args)
    return _with_unreached_as_none(result, weights, reads)


def pynative_value_and_grad(fn, weights, has_aux=False):
    """``mindspore.value_and_grad(fn, None, weights, has_aux)`` in PyNative, with torch's None
    (not MindSpore's zeros) as the gradient of a weight the loss never reached, so that
    ``accumulate_grad`` leaves its ``.grad`` as it was and the optimizers skip it, as torch's do
    (``_ParameterReads``).  ``python -m migrate`` emits it for a training step's loss closure
    that cannot be compiled (``.item()``, printing, Python control flow on tensors)."""
    weights = list(weights)

    def call(*args):
        return _pynative_step(fn, weights, has_aux, args)

    return call


__all__ += ["pynative_value_and_grad"]


__all__ += ["compiled_value_and_grad"]


# --------------------------------------------------------------------------
# torch classes passed as values (norm_layer=nn.BatchNorm2d)

_SIGNATURES = {}


def _value_transform(kind, name, value, torch_name):
    """api_map.yaml's value transforms, on the value itself (the codemod applies them to literals)."""
    if kind == "one_minus":
        if value is None:
            raise NotImplementedError(f"{torch_name}({name}=None): the cumulative average has no MindSpore equivalent")
        return round(1 - float(value), 12) if isinstance(value, (int, float)) else 1 - value
    if kind == "as_bool":
        return bool(value)  # a flag torch takes as any truthy value; MindSpore's validators want a bool
    if kind == "as_1tuple":
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise NotImplementedError(f"{torch_name}({name}={value!r}): MindSpore's LayerNorm takes begin_norm_axis "
                                          "for the input rank; a multi-axis normalized_shape needs it by hand")
            return tuple(value)
        return (value,)
    if isinstance(value, list):  # tuple, tuple_or_int, list_as_tuple
        return tuple(value)
    if kind == "tuple" and isinstance(value, int):
        return (value,)
    return value


def _refused(condition, bound):
    """Does an ``unsupported_args`` condition (``name``, ``name=VALUE``, ``name without other``) hold?"""
    name, sep, literal = condition.partition("=")
    name, _, other = name.strip().partition(" without ")
    name = name.strip()
    if name not in bound or (other and other.strip() in bound):
        return False
    if not sep:
        return True
    value = bound[name]  # a tensor's == is elementwise: only Python literals can equal VALUE
    return isinstance(value, (bool, int, float, str, type(None), tuple, list)) and value == ast.literal_eval(literal.strip())


_SIGNATURE_METAS = {}


def _signature_meta(base):
    """The metaclass of ``torch_signature``'s classes: an instance or subclass of the target is one of
    theirs (``isinstance(m, norm_layer)`` on a layer the codemod converted directly, as in torch)."""
    meta = _SIGNATURE_METAS.get(base)
    if meta is None:
        meta = base("torch_signature_type", (base,), {
            "__instancecheck__": lambda cls, obj: isinstance(obj, cls._torch_type),
            "__subclasscheck__": lambda cls, sub: issubclass(sub, cls._torch_type),
        })
        _SIGNATURE_METAS[base] = meta
    return meta


def torch_signature(target, torch_name, args=None, *, kwargs=None, drop=(), values=None, defaults=None,
                    refuse=None, required=None, without=None):
    """A torch class passed as a value (``norm_layer=nn.BatchNorm2d``, ``partial(nn.LayerNorm, eps=1e-6)``)
    called later with torch's arguments: a subclass of ``target`` (a function, for a function target)
    whose constructor applies ``torch_name``'s api_map.yaml mapping at run time, as the codemod does
    to a call it sees: ``args`` is torch's positional order, ``kwargs`` the renames, ``drop`` the
    arguments removed, ``values`` the value transforms, ``defaults`` the target arguments added when
    missing, ``refuse`` condition -> reason (NotImplementedError), ``required`` torch argument ->
    reason when missing, ``without`` torch argument -> the target when it is not passed (torch's
    implicit Softmax dim).  One class per ``(target, torch_name)``, so ``norm_layer is
    nn.BatchNorm2d`` compares as in torch where both sides were converted; ``isinstance`` and
    ``issubclass`` against it test the target (or a ``without`` class the target derives from:
    MindSpore's Embedding for the helper's).  A target that is neither a Cell nor a plain class
    (``mindspore.Parameter``, whose ``__new__`` builds the object) gets a function."""
    key = (target, torch_name)
    made = _SIGNATURES.get(key)
    if made is not None:
        return made
    kwargs, values, defaults = dict(kwargs or {}), dict(values or {}), dict(defaults or {})
    refuse, required, without = dict(refuse or {}), dict(required or {}), dict(without or {})
    order = tuple(args) if args is not None else None

    def bind(a, kw):
        if order is None:  # no declared signature: positional arguments pass through
            return list(a), dict(kw)
        if len(a) > len(order):
            raise TypeError(f"{torch_name}() takes {len(order)} positional arguments but {len(a)} were given")
        bound = dict(zip(order, a))
        for name, value in kw.items():
            if name not in order:
                raise TypeError(f"{torch_name}() got an unexpected keyword argument '{name}'")
            if name in bound:
                raise TypeError(f"{torch_name}() got multiple values for argument '{name}'")
            bound[name] = value
        return [], bound

    def mapped(a, kw):
        positional, bound = bind(a, kw)
        for condition, reason in refuse.items():
            if _refused(condition, bound):
                raise NotImplementedError(f"{torch_name}({condition}): {reason}")
        for name, reason in required.items():
            if name not in bound:
                raise NotImplementedError(f"{torch_name}() without {name}: {reason}")
        out = {}
        for name, value in bound.items():
            if name in drop:
                continue
            if name in values:
                value = _value_transform(values[name], name, value, torch_name)
            out[kwargs.get(name, name)] = value
        for name, value in defaults.items():
            out.setdefault(name, value)
        return positional, out

    def alternative(bound_names):
        for name, other in without.items():
            if name not in bound_names:
                rest = {k: v for k, v in required.items() if k != name}
                return torch_signature(other, f"{torch_name} without {name}", args, kwargs=kwargs, drop=drop,
                                       values=values, defaults=defaults, refuse=refuse, required=rest)
        return None

    def names_of(a, kw):
        return set(kw) | (set(order[:len(a)]) if order is not None else set())

    short = torch_name.split(" ")[0].rsplit(".", 1)[-1]
    if isinstance(target, type) and (issubclass(target, nn.Cell) or target.__new__ is object.__new__):
        def __new__(cls, *a, **kw):
            other = alternative(names_of(a, kw))
            if other is not None:
                return other(*a, **kw)
            return object.__new__(cls) if target.__new__ is object.__new__ else target.__new__(cls)

        def __init__(self, *a, **kw):
            positional, out = mapped(a, kw)
            target.__init__(self, *positional, **out)

        meta = _signature_meta(type(target))
        # isinstance tests the most general class the call may build (nn.Embedding, where the
        # target is the helper's subclass for a padding_idx)
        general = next((other for other in without.values() if isinstance(other, type) and issubclass(target, other)),
                       target)
        made = meta(short, (target,), {"__new__": __new__, "__init__": __init__, "__module__": __name__,
                                        "_torch_target": target, "_torch_type": general,
                                        "__doc__": f"{torch_name}, taking torch's arguments: a {target.__name__}."})
    else:
        def made(*a, **kw):
            other = alternative(names_of(a, kw))
            if other is not None:
                return other(*a, **kw)
            positional, out = mapped(a, kw)
            return target(*positional, **out)

        made.__name__ = short
        made.__doc__ = f"{torch_name}, taking torch's arguments."
    _SIGNATURES[key] = made
    return made


__all__ += ["torch_signature"]


# ---------------------------------------------------------------- more table entries
__all__ += ["new_empty_of"]


def new_empty_of(x, *size, **options):
    """torch's ``x.new_empty(*size)`` on something the tool could not type: a MindSpore tensor's
    ``new_zeros`` (torch leaves the memory uninitialised; zeros are one of its contents) with the
    size as one tuple, the receiver's dtype unless ``dtype=``; any other object's own
    ``.new_empty`` with the arguments as given."""
    if not isinstance(x, mindspore.Tensor):
        return x.new_empty(*size, **options)
    return x.new_zeros(_spread(size), dtype=_factory_options("new_empty", **options))


__all__ += ["InstanceNorm2d"]


class InstanceNorm2d(nn.Cell):
    """torch.nn.InstanceNorm2d without running statistics (torch's default): each sample's
    channels normalized over (H, W) with the biased variance, in training and inference alike,
    as ``ops.group_norm`` with one group per channel; ``affine=True`` adds torch's ``weight``
    (ones) and ``bias`` (zeros) under torch's names.  ``mindspore.nn.InstanceNorm2d`` has no CPU
    kernel in MindSpore 2.10 (measured) and defaults to affine=True.  A 3-D (unbatched)
    ``(C, H, W)`` input is accepted, as in torch."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__()
        if track_running_stats:
            raise NotImplementedError("InstanceNorm2d(track_running_stats=True) is not implemented in _torch_compat")
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        if affine:
            self.weight = mindspore.Parameter(ops.ones((num_features,), mindspore.float32), name="weight")
            self.bias = mindspore.Parameter(ops.zeros((num_features,), mindspore.float32), name="bias")
        else:
            self.weight, self.bias = None, None

    def construct(self, input):
        unbatched = input.ndim == 3
        if unbatched:
            input = input.expand_dims(0)
        out = ops.group_norm(input, input.shape[1], self.weight, self.bias, self.eps)
        return out.squeeze(0) if unbatched else out


__all__ += ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "AdaptiveMaxPool1d"]


def _pool1d_stride(kernel_size, stride):
    """torch's 1-D pooling ``stride``: ``kernel_size`` when None or empty, one int otherwise."""
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return kernel_size
    return _single(stride, "stride")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool1d (MindSpore 2.10 has no ops.max_pool1d) through
    ``ops.max_pool2d`` on a unit height: stride defaults to kernel_size, padding, dilation,
    ceil_mode and int64 indices (along L: the flat index of a unit height) as torch's; a 2-D
    (unbatched) input too."""
    kernel_size = _single(kernel_size, "kernel_size")
    stride = _pool1d_stride(kernel_size, stride)
    padding, dilation = _single(padding, "padding"), _single(dilation, "dilation")
    squeeze = (0, -2) if input.ndim == 2 else (-2,)
    batched = input.expand_dims(0) if input.ndim == 2 else input
    out = ops.max_pool2d(batched.expand_dims(-2), (1, kernel_size), (1, stride), (0, padding), (1, dilation),
                         return_indices, ceil_mode)
    if return_indices:
        values, indices = out
        for axis in squeeze[::-1]:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
        return values, indices
    for axis in squeeze[::-1]:
        out = out.squeeze(axis)
    return out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch.nn.functional.avg_pool1d through ``ops.avg_pool2d`` on a unit height: stride defaults
    to kernel_size (``ops.avg_pool1d``'s to 1), padding, ceil_mode and count_include_pad as
    torch's; a 2-D (unbatched) input too."""
    kernel_size = _single(kernel_size, "kernel_size")
    stride = _pool1d_stride(kernel_size, stride)
    padding = _single(padding, "padding")
    unbatched = input.ndim == 2
    if unbatched:
        input = input.expand_dims(0)
    out = ops.avg_pool2d(input.expand_dims(-2), (1, kernel_size), (1, stride), (0, 0, padding, padding), ceil_mode,
                         count_include_pad).squeeze(-2)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool1d through ``ops.adaptive_avg_pool2d`` on a unit
    height (as ``AdaptiveAvgPool1d``): ``ops.adaptive_avg_pool1d`` requires the length to be
    divisible by the output size and a 3-D input (measured)."""
    size = _single(output_size, "output_size")
    if size is None:
        size = input.shape[-1]
    return ops.adaptive_avg_pool2d(input.expand_dims(-2), (1, size)).squeeze(-2)


class AdaptiveMaxPool1d(nn.Cell):
    """torch.nn.AdaptiveMaxPool1d through ``ops.adaptive_max_pool2d`` on a unit height:
    ``mindspore.nn.AdaptiveMaxPool1d`` requires the length to be divisible by the output size and
    a 3-D input, and returns no indices (measured); int64 indices along L with
    ``return_indices=True``, as torch's."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = _single(output_size, "output_size")
        self.return_indices = return_indices

    def construct(self, input):
        size = input.shape[-1] if self.output_size is None else self.output_size
        out = ops.adaptive_max_pool2d(input.expand_dims(-2), (1, size), self.return_indices)
        if self.return_indices:
            return out[0].squeeze(-2), out[1].squeeze(-2)
        return out.squeeze(-2)


__all__ += ["ConstantPad2d", "Tanhshrink"]


class ConstantPad2d(nn.Cell):
    """torch.nn.ConstantPad2d through ``pad`` above (as ``ZeroPad2d``): an int or torch's (left,
    right, top, bottom) filled with ``value``; negative values crop, which
    ``mindspore.nn.ConstantPad2d`` (through ``ops.pad``) gets right only on its first call in
    MindSpore 2.10 (measured)."""

    def __init__(self, padding, value):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
        self.value = value

    def construct(self, input):
        return pad(input, self.padding, "constant", self.value)


class Tanhshrink(nn.Cell):
    """torch.nn.Tanhshrink, ``x - tanh(x)``, with the accurate ``tanh`` above:
    ``mindspore.nn.Tanhshrink`` carries the tanh kernel's 1e-4 error for 3 < |x| < 9 (measured)."""

    def construct(self, input):
        return input - tanh(input)


__all__ += ["SoftMarginLoss", "TripletMarginLoss"]


class SoftMarginLoss(nn.Cell):
    """torch.nn.SoftMarginLoss, ``log(1 + exp(-y x))`` reduced as torch's, written as
    ``relu(-y x) + log1p(exp(-|y x|))``: ``mindspore.nn.SoftMarginLoss`` has no CPU kernel in
    MindSpore 2.10 (measured).  Where torch overflows to inf (y x below about -88 in float32) this
    gives -y x."""

    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction("SoftMarginLoss", reduction)
        self.reduction = reduction

    def construct(self, input, target):
        z = input * target
        return _reduced(ops.relu(-z) + ops.log1p(ops.exp(-ops.abs(z))), self.reduction)


class TripletMarginLoss(nn.Cell):
    """torch.nn.TripletMarginLoss, ``max(d(a, p) - d(a, n) + margin, 0)`` with torch's
    ``d(x, y) = ||x - y + eps||_p`` over the last axis (``pairwise_distance`` above), ``swap``
    (d(a, n) replaced by d(p, n) where smaller) and reduction: ``mindspore.nn.TripletMarginLoss``
    has no CPU kernel in MindSpore 2.10 (measured)."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        super().__init__()
        _check_reduction("TripletMarginLoss", reduction)
        self.margin, self.p, self.eps, self.swap, self.reduction = margin, p, eps, swap, reduction

    def construct(self, anchor, positive, negative):
        d_pos = pairwise_distance(anchor, positive, self.p, self.eps)
        d_neg = pairwise_distance(anchor, negative, self.p, self.eps)
        if self.swap:
            d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, self.p, self.eps))
        return _reduced(ops.relu(self.margin + d_pos - d_neg), self.reduction)


__all__ += ["nan_to_num", "diff", "bucketize", "take_along_dim"]


#: float64's largest finite value as a tensor: inside mindspore.jit a Python float is a float32
#: constant (1.8e308 would be inf there)
_F64_MAX = mindspore.Tensor(np.finfo(np.float64).max, mindspore.float64)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """torch.nan_to_num: NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by
    default 0 and the dtype's largest and lowest finite values), any float dtype; integer and
    bool tensors come back unchanged, as torch's.  ``ops.nan_to_num`` refuses float64 in
    MindSpore 2.10 (measured).  The dtype tests are plain comparisons, which compile inside
    mindspore.jit."""
    if input.dtype == mindspore.float16 or input.dtype == mindspore.float32:
        return ops.nan_to_num(input, nan, posinf, neginf)
    if input.dtype != mindspore.float64:
        return input
    out = ops.where(ops.isnan(input), mindspore.Tensor(nan, mindspore.float64), input)
    out = ops.where(input == float("inf"), _F64_MAX if posinf is None else mindspore.Tensor(posinf, mindspore.float64), out)
    return ops.where(input == float("-inf"), -_F64_MAX if neginf is None else mindspore.Tensor(neginf, mindspore.float64),
                     out)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """torch.diff: the ``n``-th forward difference along ``dim`` after ``prepend``/``append``
    are concatenated there; bool tensors give ``!=`` of neighbours, as torch's.  ``ops.diff``
    takes n=1 only and refuses bool input (measured)."""
    parts = [input]
    if prepend is not None:
        parts = [prepend] + parts
    if append is not None:
        parts = parts + [append]
    out = ops.cat(parts, dim) if len(parts) > 1 else input
    axis = dim % out.ndim
    for _ in range(n):
        length = out.shape[axis]
        later, earlier = ops.narrow(out, axis, 1, length - 1), ops.narrow(out, axis, 0, length - 1)
        out = ops.logical_xor(later, earlier) if out.dtype == mindspore.bool_ else later - earlier
    return out


def repeat_interleave(input, repeats, dim=None):
    """torch.repeat_interleave (and the method): ``ops.repeat_interleave``, whose CPU kernel
    refuses bool tensors in MindSpore 2.10 ("doesn't support 'Bool'", measured; torch takes
    them, e.g. a sequence mask): a bool tensor is repeated as uint8 and cast back."""
    if input.dtype == mindspore.bool_:
        return ops.cast(ops.repeat_interleave(ops.cast(input, mindspore.uint8), repeats, dim), mindspore.bool_)
    return ops.repeat_interleave(input, repeats, dim)


__all__ += ["repeat_interleave"]


def bucketize(input, boundaries, out_int32=False, right=False):
    """torch.bucketize: the index of the bucket of each value of ``input`` among the sorted 1-D
    ``boundaries`` (``searchsorted`` above with the arguments swapped: right=False counts the
    boundaries below each value), int64 (int32 with ``out_int32``) as torch's; ``ops.bucketize``
    gives int32 and takes its boundaries as a list of floats."""
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def take_along_dim(input, indices, dim=None):
    """torch.take_along_dim: with ``dim`` the values of ``input`` at ``indices`` along it, the
    other dimensions broadcast between the two (``ops.gather_elements`` wants equal shapes);
    without ``dim`` both are flattened first, as torch's."""
    if dim is None:
        return ops.gather_elements(input.reshape(-1), 0, indices.reshape(-1))
    axis = dim % input.ndim
    common = [max(a, b) for a, b in zip(input.shape, indices.shape)]  # torch wants equal ranks
    input = ops.broadcast_to(input, tuple(common[:axis] + [input.shape[axis]] + common[axis + 1:]))
    indices = ops.broadcast_to(indices, tuple(common[:axis] + [indices.shape[axis]] + common[axis + 1:]))
    return ops.gather_elements(input, axis, indices)


__all__ += ["Conv3d"]


def _reflect_pad3d(x, pads):
    """``ops.pad(x, pads, mode='reflect')`` of a 5-D ``x`` over its last three axes (``pads``
    last axis first, as torch's F.pad): MindSpore 2.10's reflect mode pads at most the last two
    axes of an at most 4-D input (measured), so H and W are padded first, then D moved last."""
    left, right, top, bottom, head, tail = pads
    n, c, d, h, w = x.shape
    x = ops.pad(x.reshape(n * c, d, h, w), (left, right, top, bottom), mode="reflect")
    h, w = x.shape[2], x.shape[3]
    x = ops.pad(x.transpose(0, 2, 3, 1).reshape(n * c, h * w, d), (head, tail), mode="reflect")
    return x.reshape(n, c, h, w, d + head + tail).transpose(0, 1, 4, 2, 3)


class Conv3d(nn.Conv3d):
    """torch.nn.Conv3d: torch's arguments and defaults on ``mindspore.nn.Conv3d`` (same weight
    layout ``(out, in / groups, kd, kh, kw)`` and initialization), as ``Conv2d`` above: ``padding``
    an int, a ``(d, h, w)`` tuple, ``'valid'`` or ``'same'``, a bias unless ``bias=False``,
    ``padding_mode`` other than ``'zeros'`` padding the input first, and a 4-D (unbatched) input.
    ``groups`` runs mindspore.nn.Conv3d's own loop of one convolution per group."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        kernel_size, stride, dilation = _ntuple(kernel_size, 3), _ntuple(stride, 3), _ntuple(dilation, 3)
        (head, tail), (top, bottom), (left, right) = _conv_pads("Conv3d", padding, kernel_size, stride, dilation)
        pad_op = _check_padding_mode("Conv3d", padding_mode)
        if in_channels % groups or out_channels % groups:
            raise ValueError("Conv3d: in_channels and out_channels must be divisible by groups")
        zeros = pad_op == "constant"
        pads = (head, tail, top, bottom, left, right)
        super().__init__(in_channels, out_channels, kernel_size, stride, "pad", pads if zeros else 0, dilation,
                         groups, bool(bias))
        self.padding_mode = padding_mode
        self.groups = groups
        # ops.pad takes the last axis first, as torch's F.pad does
        self._pre_pad = None if zeros or not any(pads) else (left, right, top, bottom, head, tail)
        self._pad_op = pad_op

    def construct(self, x):
        unbatched = x.ndim == 4
        if unbatched:
            x = x.expand_dims(0)
        if self._pre_pad is not None:
            if self._pad_op == "reflect":
                x = _reflect_pad3d(x, self._pre_pad)
            else:
                x = ops.pad(x, self._pre_pad, mode=self._pad_op)
        output = super().construct(x)
        if unbatched:
            output = output.squeeze(0)
        return output


__all__ += ["BatchNorm3d"]


class BatchNorm3d(nn.BatchNorm2d):
    """torch.nn.BatchNorm3d as ``mindspore.nn.BatchNorm2d`` (same arguments, momentum convention
    and parameters gamma/beta/moving_mean/moving_variance) on the (N, C, D H, W) view of the
    (N, C, D, H, W) input: the statistics per channel are the same.  ``mindspore.nn.BatchNorm3d``
    computes the same values (measured) but keeps its parameters one level down
    (``bn2d.gamma``, ...), where torch's ``weight``/``bias``/``running_*`` have no one-name
    rename."""

    def construct(self, x):
        n, c, d, h, w = x.shape
        return super().construct(x.reshape(n, c, d * h, w)).reshape(n, c, d, h, w)


#: torch name ("torch.nn.ReLU") -> a function returning what that name converts to, for
#: ``torch_getattr``.  Empty here: ``python -m migrate`` appends the table's module-level entries
#: (api_map.yaml, with --map files) to this file when converted code calls ``torch_getattr``.
_TORCH_NAMES = {}


def _no_value(torch_name, reason):
    """What ``torch_getattr`` returns for a name the table maps but cannot give as a value."""
    def refuse():
        raise NotImplementedError(f"{torch_name}: {reason}")
    return refuse


def torch_getattr(module, name, *default):
    """``getattr(nn, name)`` (``getattr(torch.optim, cfg.optimizer)``, ``getattr(F, act, None)``)
    with the name known only at run time: what ``module.name`` converts to where the codemod sees
    it as a value -- a MindSpore name, or for a class or function whose arguments differ, the
    ``torch_signature`` class applying the table's mapping where it is called
    (``getattr(nn, "LeakyReLU")()`` has torch's slope 0.01).  A name the table maps but cannot give
    as a value raises NotImplementedError saying why.  A name the table lacks raises
    AttributeError, as torch does for a name it lacks; with a default, the default is returned
    and a RuntimeWarning names the lookup (torch may have that name: the table does not)."""
    key = f"{module}.{name}"
    build = _TORCH_NAMES.get(key)
    if build is not None:
        return build()
    if default:
        warnings.warn(f"getattr({module}, {name!r}, default): api_map.yaml has no {key}, so the default "
                      "was returned (torch may have that name: convert it by hand)", RuntimeWarning, stacklevel=2)
        return default[0]
    raise AttributeError(f"{key} is not in the migration table (api_map.yaml): convert this lookup by hand")


__all__ += ["torch_getattr"]
