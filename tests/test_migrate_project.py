"""Cross-file knowledge: which imported classes are nn.Modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.codemod import convert_source
from migrate.project import absolute, build_index, module_name
from migrate.spec import load_spec

SPEC = load_spec()


@pytest.mark.parametrize(
    "name, module, is_pkg, want",
    [
        (".model.Net", "pkg.train", False, "pkg.model.Net"),
        ("..util.X", "pkg.sub.a", False, "pkg.util.X"),
        (".model.Net", "pkg", True, "pkg.model.Net"),
        ("pkg.model.Net", "anything", False, "pkg.model.Net"),
        ("...x", "a.b", False, None),
    ],
)
def test_absolute(name, module, is_pkg, want):
    assert absolute(name, module, is_pkg) == want


def test_module_name():
    assert module_name("pkg/train.py") == ("pkg.train", False)
    assert module_name("pkg/__init__.py") == ("pkg", True)
    assert module_name("top.py") == ("top", False)


def write(root: Path, files: dict) -> list[str]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return sorted(files)


def test_index_follows_imports_bases_and_reexports(tmp_path):
    files = write(tmp_path, {
        "pkg/__init__.py": "from .model import Net\n",
        "pkg/model.py": "from torch import nn\nclass Base(nn.Module): pass\nclass Net(Base): pass\nclass Plain: pass\n",
        "pkg/more.py": "from pkg.model import Net as N\nclass Big(N): pass\n",
        "other.py": "from mytorch import nn\nclass Fake(nn.Module): pass\n",
    })
    index = build_index(tmp_path, files)
    assert {"pkg.model.Base", "pkg.model.Net", "pkg.more.Big", "pkg.Net"} <= index.module_classes
    assert "pkg.model.Plain" not in index.module_classes and "other.Fake" not in index.module_classes


def test_index_with_src_imported_as_a_package(tmp_path):
    files = write(tmp_path, {
        "__init__.py": "",
        "model.py": "import torch.nn as nn\nclass Net(nn.Module): pass\n",
        "train.py": "from proj.model import Net\n",
    })
    index = build_index(tmp_path, files, prefix="proj")
    assert {"model.Net", "proj.model.Net"} <= index.module_classes


def test_subclass_in_another_file_becomes_a_cell(tmp_path):
    files = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/model.py": "import torch.nn as nn\nclass Base(nn.Module):\n    def forward(self, x):\n        return x\n",
        "pkg/head.py": "from .model import Base\n\n\nclass Head(Base):\n    def forward(self, x):\n        return super().forward(x)\n",
        "pkg/train.py": "from .model import Base\n\n\ndef run(x):\n    model = Base()\n    model.train()\n    return model(x)\n",
    })
    index = build_index(tmp_path, files)
    head = convert_source((tmp_path / "pkg/head.py").read_text(), SPEC, "pkg/head.py", project=index).code
    assert "def construct(self, x):\n        return super().construct(x)" in head
    train = convert_source((tmp_path / "pkg/train.py").read_text(), SPEC, "pkg/train.py", project=index).code
    assert "model.set_train()" in train
