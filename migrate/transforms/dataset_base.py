"""``class D(torch.utils.data.Dataset)`` -> ``class D:``.

MindSpore's ``GeneratorDataset`` takes any object with ``__getitem__`` and
``__len__``, so the torch base class is dropped rather than replaced.
"""

from __future__ import annotations

import libcst as cst
from libcst import MaybeSentinel

from migrate.transforms import Example, Transform, Unconvertible, register

BASES = ("torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset")


@register
class DatasetBase(Transform):
    name = "dataset_base"
    examples = (
        Example(
            name="only base",
            before="""\
import torch


class Ratings(torch.utils.data.Dataset):
    def __len__(self):
        return 0
""",
            after="""\
class Ratings:
    def __len__(self):
        return 0
""",
        ),
        Example(
            name="other bases stay",
            before="""\
from torch.utils.data import Dataset as DS


class Mixed(Base, DS, metaclass=Meta):
    pass
""",
            after="""\
class Mixed(Base, metaclass=Meta):
    pass
""",
        ),
    )

    def _is_dataset(self, expr) -> bool:
        return isinstance(expr, (cst.Name, cst.Attribute)) and self.ctx.torch_name(expr) in BASES

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for base in node.bases:
            if self._is_dataset(base.value):
                self.ctx.claim(base.value)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef):
        keep = []
        for old, new in zip(original.bases, updated.bases):
            if self._is_dataset(old.value):
                self.ctx.converted(old.value, "torch.utils.data.Dataset", "GeneratorDataset takes any object with __getitem__/__len__")
            else:
                keep.append(new)
        if len(keep) == len(updated.bases):
            return updated
        if keep and not updated.keywords:
            keep[-1] = keep[-1].with_changes(comma=MaybeSentinel.DEFAULT)
        if not keep and not updated.keywords:
            return updated.with_changes(bases=[], lpar=MaybeSentinel.DEFAULT, rpar=MaybeSentinel.DEFAULT)
        return updated.with_changes(bases=keep)

    def rewrite(self, site):
        raise Unconvertible("unsupported", "only a Dataset base class is rewritten (GeneratorDataset wraps any __getitem__/__len__ object)")
