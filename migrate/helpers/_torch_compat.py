"""torch semantics that MindSpore lacks, written with MindSpore ops.

Emitted by ``python -m migrate`` into the converted tree's root, only when a
converted file uses it.  It imports neither torch nor the migration tool.

The optimizers keep torch's protocol: each parameter carries a plain ``.grad``
attribute (a MindSpore ``Parameter`` accepts one in PyNative mode), ``step()``
reads it and ``zero_grad()`` sets it back to ``None``.  Gradients themselves
come from ``mindspore.value_and_grad``; whoever computes them assigns
``p.grad = g``.
"""

import math
import os
import shutil
import tempfile

import mindspore
from mindspore import nn, ops

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm_", "zero_grad", "accumulate_grad", "CrossEntropyLoss",
           "data_loader", "load_state_dict", "save_checkpoint", "load_checkpoint", "cast_cell"]


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


class Adam(Optimizer):
    """torch.optim.Adam's formula: eps is added after the bias correction of the second moment.

    ``mindspore.nn.Adam`` puts eps inside (the TF formula), which at step 1 makes
    the effective eps ~30x larger and lets weights drift from torch's by 1e-2
    within 50 steps of a small MLP; this one stays within 1e-4."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        if amsgrad:
            raise NotImplementedError("amsgrad=True is not implemented in _torch_compat.Adam")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
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
                if weight_decay:
                    grad = grad + weight_decay * p
                exp_avg = beta1 * state["exp_avg"] + (1 - beta1) * grad
                exp_avg_sq = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
                state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                denom = ops.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
                p.set_data(p - (lr / bias_correction1) * exp_avg / denom)


class SGD(Optimizer):
    """torch.optim.SGD's formula (momentum buffer starts as the first gradient)."""

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
            momentum, dampening = group["momentum"], group["dampening"]
            for p in group["params"]:
                grad = _grad(p)
                if grad is None:
                    continue
                if group["maximize"]:
                    grad = -grad
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p
                if momentum:
                    state = self._state(p)
                    buf = state.get("momentum_buffer")
                    buf = grad if buf is None else momentum * buf + (1 - dampening) * grad
                    state["momentum_buffer"] = buf
                    grad = grad + momentum * buf if group["nesterov"] else buf
                p.set_data(p - group["lr"] * grad)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """torch.nn.utils.clip_grad_norm_: scales every ``p.grad`` in place, returns the total norm."""
    if isinstance(parameters, mindspore.Tensor):
        parameters = [parameters]
    params = [p for p in parameters if _grad(p) is not None]
    if not params:
        return mindspore.Tensor(0.0, mindspore.float32)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = ops.stack([ops.abs(p.grad).max() for p in params]).max()
    else:
        norms = ops.stack([ops.norm(p.grad.reshape(-1), norm_type) for p in params])
        total = ops.norm(norms, norm_type)
    coef = ops.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad = p.grad * coef
    return total


def accumulate_grad(params, grads):
    """What ``loss.backward()`` does with the gradients: add them to each ``p.grad``."""
    for p, g in zip(params, grads):
        old = _grad(p)
        p.grad = g if old is None else old + g


def data_loader(dataset, batch_size=1, shuffle=False, drop_last=False):
    """torch.utils.data.DataLoader over a map-style dataset, as a GeneratorDataset pipeline."""
    import mindspore.dataset as ds

    first = dataset[0]
    n_columns = len(first) if isinstance(first, (tuple, list)) else 1
    loader = ds.GeneratorDataset(dataset, column_names=[f"column_{i}" for i in range(n_columns)], shuffle=shuffle)
    if batch_size is not None:
        loader = loader.batch(batch_size, drop_remainder=drop_last)
    return loader


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
    strict=True raises on missing or unexpected keys, as torch does."""
    own = net.parameters_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (missing or unexpected):
        raise RuntimeError(f"Error(s) in loading state_dict for {type(net).__name__}: "
                           f"missing keys {missing}, unexpected keys {unexpected}")
    params = {}
    for name, value in state_dict.items():
        if name not in own:
            continue
        if not isinstance(value, mindspore.Tensor):
            value = mindspore.Tensor(value)
        if not isinstance(value, mindspore.Parameter):
            value = mindspore.Parameter(value.astype(own[name].dtype), name=name,
                                        requires_grad=own[name].requires_grad)
        params[name] = value
    mindspore.load_param_into_net(net, params, strict_load=True)
    return missing, unexpected


def zero_grad(params):
    """``module.zero_grad()``: forget the gradients of a Cell's parameters (or of an iterable)."""
    if isinstance(params, nn.Cell):
        params = params.get_parameters()
    for p in params:
        p.grad = None


class CrossEntropyLoss(nn.Cell):
    """torch.nn.CrossEntropyLoss: takes int64 class indices as torch does.

    ``mindspore.nn.CrossEntropyLoss`` rejects int64 labels ("labels should be
    Int32") while ``torch.from_numpy`` of an int array gives int64;
    ``ops.cross_entropy`` accepts both and matches torch's formula."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.weight = weight
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def construct(self, input, target):
        return ops.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)
