"""``getattr(nn, name)`` -> ``torch_getattr("torch.nn", name)``: a torch module's member looked up
by a name known only at run time (``getattr(nn, cfg.activation)()``, ``getattr(torch.optim,
args.optimizer)(params, lr=lr)``, ``getattr(nn, rnn_type)(ninp, nhid, nlayers)``).

The codemod cannot tell which entry applies, so the lookup moves to run time: the helper
``torch_getattr`` finds ``torch.nn.<name>`` among the table's module-level entries, which
``python -m migrate`` writes into the helper module for it (``_TORCH_NAMES``), and returns what the
codemod writes where it sees that name as a value -- the MindSpore name, or the ``torch_signature``
class that applies the entry's argument mapping where it is called.  A name the table maps but
cannot give as a value raises NotImplementedError with the reason; a name it lacks raises
AttributeError (or, with getattr's default, returns the default with a warning).  Only the builtin
``getattr`` with two or three positional arguments, on a name that resolves to a torch module;
``hasattr(nn, name)`` stays unsupported (the table does not know every name torch has).
"""

from __future__ import annotations

import json
from functools import lru_cache

import libcst as cst
from libcst.metadata import BuiltinAssignment

from migrate.transforms import Example, Transform, register


@lru_cache(maxsize=8)
def _modules(spec) -> frozenset:
    """The torch modules the table has module-level entries in, with their parents."""
    found = set()
    for key, rule in spec.rules.items():
        if rule.owner is not None:
            continue
        parts = key.split(".")[:-1]
        for n in range(1, len(parts) + 1):
            found.add(".".join(parts[:n]))
    return frozenset(found)


@register
class TorchGetattr(Transform):
    name = "torch_getattr"
    examples = (
        Example(
            name="a layer class chosen by name",
            before="""\
import torch.nn as nn


def activation(name: str) -> nn.Module:
    return getattr(nn, name)()
""",
            after="""\
from _torch_compat import torch_getattr
from mindspore import nn


def activation(name: str) -> nn.Cell:
    return torch_getattr("torch.nn", name)()
""",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if self._module(node) is not None:
            self.ctx.claim(node.args[0].value)  # the module itself is not a value to convert

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        module = self._module(original)
        if module is None:
            return updated
        self.ctx.converted(original, module, "getattr with a name known at run time: the helper torch_getattr "
                                             "looks the name up among the table's entries (written into the "
                                             "helper module) and raises for one it cannot convert")
        first = updated.args[0].with_changes(value=cst.SimpleString(json.dumps(module)))
        return updated.with_changes(func=self.ctx.helper("torch_getattr"), args=[first, *updated.args[1:]])

    def _module(self, call: cst.Call):
        """The torch module ``call`` (a builtin getattr) reads a member of, else None."""
        if not (isinstance(call.func, cst.Name) and call.func.value == "getattr"):
            return None
        if len(call.args) not in (2, 3) or any(a.keyword is not None or a.star for a in call.args):
            return None
        scope = self.ctx.names.scope_of(call.func)
        seen = list(scope[call.func.value]) if scope is not None else []
        if not seen or any(not isinstance(a, BuiltinAssignment) for a in seen):
            return None  # getattr rebound in this file (or the scope is unknown)
        module = self.ctx.torch_name(call.args[0].value)
        if module is None or module not in _modules(self.ctx.spec):
            return None
        return module
