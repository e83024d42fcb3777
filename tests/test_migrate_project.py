"""Cross-file knowledge: which imported classes are nn.Modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate import runner
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


def test_optimizer_subclass_in_another_file_is_an_optimizer(tmp_path):
    """An optimizer class of another file (through a re-export and a subclass of it) is an
    optimizer where it is used: backward() next to its zero_grad()/step() becomes the
    compiled step over its parameters; a scheduler or plain class is not one."""
    files = write(tmp_path, {
        "pkg/__init__.py": "from .optim import Plain\n",
        "pkg/optim.py": ("from torch.optim.optimizer import Optimizer\nfrom torch.optim import lr_scheduler\n"
                         "class Plain(Optimizer):\n    pass\nclass Sched(lr_scheduler.StepLR):\n    pass\n"
                         "class Other:\n    pass\n"),
        "pkg/more.py": "import torch\nfrom pkg import Plain\nclass Fancy(Plain):\n    pass\n",
        "pkg/train.py": ("import torch\nfrom .more import Fancy\n\n\ndef run(model: torch.nn.Module, x):\n    opt = Fancy(model.parameters(), {})\n"
                         "    opt.zero_grad()\n    loss = model(x).sum()\n    loss.backward()\n    opt.step()\n"),
    })
    index = build_index(tmp_path, files)
    assert {"pkg.optim.Plain", "pkg.Plain", "pkg.more.Fancy"} <= index.optimizer_classes
    assert not {"pkg.optim.Sched", "pkg.optim.Other"} & index.optimizer_classes
    assert not index.optimizer_classes & index.module_classes
    out = convert_source((tmp_path / "pkg/train.py").read_text(), SPEC, "pkg/train.py", project=index)
    assert "compiled_value_and_grad(_loss_fn, opt.parameters)" in out.code, out.code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")]


def test_star_exports_follow_all_privacy_and_chains(tmp_path):
    files = write(tmp_path, {
        "utils.py": "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport numpy as _np\n"
                    "class Helper:\n    pass\n",
        "api.py": "import torch\nimport numpy as np\n__all__ = ['torch']\n",
        "mid.py": "from utils import *\n",
        "top.py": "from mid import *\nfrom api import *\n",
    })
    index = build_index(tmp_path, files)
    assert index.star_names("utils") == {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional",
                                         "Helper": "utils.Helper"}
    assert index.star_names("api") == {"torch": "torch"}
    assert index.star_names("top")["F"] == "torch.nn.functional"  # through mid's own star import
    assert index.star_names("numpy") == {}  # not the project's: nothing is assumed


STAR_PROJECT = {
    "utils.py": "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n",
    "model.py": """\
from utils import *


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return F.relu(self.fc(torch.cat([x, x], dim=0)))


def local_names(x):
    nn = {"Linear": len}
    return nn["Linear"](x)
""",
}


def test_names_from_a_star_import_of_a_project_module_are_resolved(tmp_path):
    """The MAMO authors' release reaches torch only through `from utils import *`: those names
    resolve through the project index (a name rebound locally does not)."""
    files = write(tmp_path, STAR_PROJECT)
    index = build_index(tmp_path, files)
    out = convert_source((tmp_path / "model.py").read_text(), SPEC, "model.py", project=index)
    # the file binds `nn` itself (local_names), so MindSpore's nn is imported as ms_nn
    assert "class Net(ms_nn.Cell):" in out.code and "ms_nn.Dense(4, 2)" in out.code, out.code
    assert "ops.relu(" in out.code and "ops.cat([x, x], axis=0)" in out.code, out.code
    assert "import torch" not in out.code and "torch." not in out.code.replace("_torch_compat", "")
    assert "from utils import *" in out.code, out.code
    assert 'nn["Linear"](x)' in out.code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.sites
    plain = convert_source((tmp_path / "model.py").read_text(), SPEC, "model.py")
    assert not plain.changed  # without the project, nothing is known about utils


def test_star_exports_under_the_package_name_and_not_by_guessing(tmp_path):
    files = write(tmp_path, {"__init__.py": "", "utils.py": "import torch\n", "sub/__init__.py": "",
                             "sub/utils.py": "import numpy as np\n"})
    index = build_index(tmp_path, files, prefix="proj")
    assert index.star_names("proj.utils") == index.star_names("utils") == {"torch": "torch"}
    assert index.star_names("sub.utils") == {"np": "numpy"}
    assert index.star_names("other.utils") == {}  # not read as the project's utils


def test_script_folder_imports_resolve_to_the_neighbour_module(tmp_path):
    """``python code/main.py`` puts code/ first on sys.path: ``from model import Net`` in
    code/main.py is code/model.py's Net, and instances of it are modules."""
    src = tmp_path / "src"
    files = write(src, {
        "code/model.py": "import torch.nn as nn\nclass Net(nn.Module):\n    def forward(self, x):\n        return x\n",
        "code/main.py": (
            "import torch\nfrom model import Net\nimport model as m\n"
            "class Big(m.Net): pass\n"
            "net = Net()\nnet.eval()\nBig().train()\n"
        ),
    })
    index = build_index(src, files)
    assert index.aliases == {"model": "code.model", "main": "code.main"}
    assert {"code.model.Net", "code.main.Big"} <= index.module_classes
    assert index.resolve("model.Net", "code.main", False) == "code.model.Net"
    result = runner.run(src, tmp_path / "out")
    sites = {(s.rule, s.kind) for r in result.files if r.path == "code/main.py" for s in r.sites}
    assert ("torch.nn.Module.eval", "converted") in sites and ("torch.nn.Module.train", "converted") in sites
    assert "set_train(False)" in (tmp_path / "out" / "code" / "main.py").read_text()


def test_a_folder_named_like_its_main_module(tmp_path):
    """NGCF/main.py's ``from NGCF import NGCF``, run as ``python NGCF/main.py``, is NGCF/NGCF.py:
    the folder is no package (no __init__.py), so the neighbour wins over the folder's name."""
    src = tmp_path / "src"
    files = write(src, {
        "NGCF/NGCF.py": "import torch.nn as nn\nclass NGCF(nn.Module):\n    def forward(self, x):\n        return x\n",
        "NGCF/main.py": "import torch\nfrom NGCF import NGCF\nmodel = NGCF().to(torch.device('cpu'))\nmodel.eval()\n",
    })
    index = build_index(src, files)
    assert index.resolve("NGCF.NGCF", "NGCF.main", False) == "NGCF.NGCF.NGCF"
    assert index.resolve("NGCF.NGCF", "other", False) == "NGCF.NGCF"  # a root file: as written
    result = runner.run(src, tmp_path / "out")
    sites = {(s.rule, s.kind) for r in result.files if r.path == "NGCF/main.py" for s in r.sites}
    assert ("torch.nn.Module.eval", "converted") in sites
    assert "model = NGCF()\n" in (tmp_path / "out" / "NGCF" / "main.py").read_text()


def test_imports_through_a_folder_without_init_resolve(tmp_path):
    """news-recommendation's layout: src/train.py runs from src/, and src/model/ has no __init__.py
    (a namespace package) while src/model/NRMS/ has one; ``from model.NRMS.news_encoder import
    NewsEncoder`` (in train.py and inside the NRMS package alike) is src/model/NRMS/news_encoder.py,
    so its instances are modules."""
    src = tmp_path / "src"
    files = write(src, {
        "src/model/NRMS/news_encoder.py": ("import torch.nn as nn\nclass NewsEncoder(nn.Module):\n"
                                           "    def forward(self, x):\n        return x\n"),
        "src/model/NRMS/__init__.py": ("import torch.nn as nn\nfrom model.NRMS.news_encoder import NewsEncoder\n"
                                       "class NRMS(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                                       "        self.news_encoder = NewsEncoder()\n"
                                       "    def forward(self, x):\n        return self.news_encoder(x)\n"),
        "src/train.py": "import torch\nfrom model.NRMS import NRMS\nmodel = NRMS()\nmodel.eval()\n",
    })
    index = build_index(src, files)
    assert index.resolve("model.NRMS.news_encoder.NewsEncoder", "src.model.NRMS", True) == \
        "src.model.NRMS.news_encoder.NewsEncoder"
    assert index.resolve("model.NRMS.NRMS", "src.train", False) == "src.model.NRMS.NRMS"
    assert {"src.model.NRMS.news_encoder.NewsEncoder", "src.model.NRMS.NRMS"} <= index.module_classes
    result = runner.run(src, tmp_path / "out")
    sites = {(s.rule, s.kind) for r in result.files if r.path == "src/train.py" for s in r.sites}
    assert ("torch.nn.Module.eval", "converted") in sites


def test_a_package_folder_keeps_absolute_imports(tmp_path):
    """In a package (pkg/__init__.py), ``import utils`` is the top-level utils.py, not pkg/utils.py."""
    files = write(tmp_path, {"utils.py": "X = 1\n", "pkg/__init__.py": "", "pkg/utils.py": "X = 2\n",
                             "pkg/main.py": "import utils\n"})
    index = build_index(tmp_path, files)
    assert index.resolve("utils.X", "pkg.main", False) == "utils.X"


@pytest.mark.parametrize("layout", [
    {"a/utils.py": "X = 1\n", "b/utils.py": "X = 2\n"},  # two folders: ambiguous
    {"utils.py": "X = 1\n", "a/utils.py": "X = 2\n"},  # a top-level module of that name
    {"a/json.py": "X = 1\n", "a/torch.py": "X = 1\n"},  # standard library and framework names
])
def test_script_folder_names_are_not_guessed_when_ambiguous(tmp_path, layout):
    files = write(tmp_path, layout)
    assert build_index(tmp_path, files).aliases == {}


def test_an_imported_module_name_rebound_to_an_instance(tmp_path):
    """``import model`` then ``model = model.BPR(...)``: calling ``model`` later calls the
    instance (a tensor comes back), not the module of that name."""
    src = tmp_path / "src"
    write(src, {
        "model.py": ("import torch.nn as nn\nclass BPR(nn.Module):\n    def __init__(self):\n"
                     "        super().__init__()\n        self.e = nn.Embedding(3, 4)\n"
                     "    def forward(self, u, i):\n        return self.e(u), self.e(i)\n"),
        "main.py": ("import torch\nimport model\nmodel = model.BPR()\nmodel.train()\n"
                    "for u, i in []:\n    p, q = model(u, i)\n    p.repeat(2, 1)\n"),
    })
    result = runner.run(src, tmp_path / "out")
    sites = {(s.rule, s.kind) for r in result.files if r.path == "main.py" for s in r.sites}
    assert ("torch.Tensor.repeat", "converted") in sites


# --------------------------------------------------------------------------
# torch's implementation modules: `from torch.nn.modules.module import Module` is torch.nn.Module


def test_names_from_torch_implementation_modules_convert_as_their_package_spelling():
    source = (
        "import torch\n"
        "from torch.nn.modules.module import Module\n"
        "from torch.nn.parameter import Parameter\n"
        "from torch.nn.modules.linear import Linear\n"
        "from torch.optim.adam import Adam\n"
        "from torch.utils.data.dataloader import DataLoader\n\n\n"
        "class Net(Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = Linear(3, 2)\n"
        "        self.w = Parameter(torch.zeros(2))\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x) + self.w\n\n\n"
        "net = Net()\n"
        "opt = Adam(net.parameters(), lr=0.1)\n"
        "loader = DataLoader(dataset, batch_size=4)\n"
    )
    out = convert_source(source, SPEC, "layers.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "class Net(nn.Cell):" in out.code
    assert "nn.Dense(3, 2)" in out.code and "mindspore.Parameter(" in out.code
    assert "Adam(module_parameters(net), lr=0.1)" in out.code and "data_loader(dataset" in out.code
    assert "torch" not in out.code.replace("_torch_compat", ""), out.code
    rules = {s.rule for s in out.sites}
    assert {"torch.nn.Module", "torch.nn.Linear", "torch.nn.Parameter", "torch.optim.Adam"} <= rules
    # a helper entry converts under either spelling
    params = convert_source("from torch.nn.modules.container import ParameterDict\np = ParameterDict()\n", SPEC, "s.py")
    assert [(s.kind, s.rule) for s in params.sites] == [("converted", "torch.nn.ParameterDict")]
    assert "from _torch_compat import ParameterDict" in params.code, params.code
    sampler = convert_source("from torch.utils.data.sampler import SubsetRandomSampler\ns = SubsetRandomSampler(idx)\n",
                             SPEC, "s.py")
    assert [(s.kind, s.rule) for s in sampler.sites] == [("converted", "torch.utils.data.SubsetRandomSampler")]


def test_private_and_unknown_implementation_names_keep_their_own_spelling():
    out = convert_source("from torch.nn.modules.loss import _Loss\nfrom torch.optim.sgd import nothing_here\n"
                         "class L(_Loss):\n    pass\nnothing_here()\n", SPEC, "l.py")
    reasons = " ".join(f"{s.rule}" for s in out.sites)
    assert "torch.nn.modules.loss._Loss" in reasons or "_Loss" not in reasons
    assert "torch.optim.nothing_here" not in reasons


def test_every_reexported_table_entry_is_the_same_object_in_each_implementation_module():
    """The canonical spelling is only right where torch re-exports the very object: for every
    table entry ``package.X`` of a ``REEXPORTED`` pair, each implementation module that defines
    ``X`` must hold the object ``package.X`` is."""
    import importlib
    import pkgutil

    torch = pytest.importorskip("torch")
    from migrate.names import REEXPORTED

    checked = 0
    for implementation, package in REEXPORTED:
        impl = importlib.import_module(implementation)
        modules = [impl] if implementation != package else []
        for info in pkgutil.iter_modules(getattr(impl, "__path__", [])):
            if not info.name.startswith("_"):
                try:
                    modules.append(importlib.import_module(f"{implementation}.{info.name}"))
                except Exception:  # an optional dependency of one implementation file
                    continue
        pkg = importlib.import_module(package)
        for key in (r.key for r in SPEC):
            head, _, leaf = key.rpartition(".")
            if head != package or not hasattr(pkg, leaf):
                continue
            for module in modules:
                if leaf in vars(module):
                    assert vars(module)[leaf] is getattr(pkg, leaf), (module.__name__, leaf)
                    checked += 1
    assert checked > 30 and torch is not None


def test_a_module_without_torch_imports_that_a_torch_module_imports_is_converted(tmp_path):
    """utils.py imports no torch, but model.py (which does) imports it and hands its functions
    tensors: its tensor methods are converted (``x.size(0)`` is a property in MindSpore, so left
    as it was it would fail at run time; ``logits.argmax(dim=1)`` is decided at run time), where the file
    used to be copied unchanged with no report.  A module no torch module imports stays as it is,
    one step only (not what utils.py itself imports)."""
    files = write(tmp_path, {
        "utils.py": ("import numpy as np\nimport helpers\n\n\ndef flatten(x):\n    return x.view(x.size(0), -1)\n\n\n"
                     "def accuracy(logits, labels):\n    return (logits.argmax(dim=1) == labels).float().mean().item()\n"),
        "helpers.py": "def total(x):\n    return x.sum(1)\n",
        "plot.py": "def first(x):\n    return x.size(0)\n",
        "model.py": ("import torch.nn as nn\nfrom utils import flatten\n\n\nclass Net(nn.Module):\n"
                     "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(12, 3)\n\n"
                     "    def forward(self, x):\n        return self.fc(flatten(x))\n"),
    })
    index = build_index(tmp_path, files)
    assert index.tensor_neighbours == {"utils"}
    out = convert_source((tmp_path / "utils.py").read_text(), SPEC, "utils.py", project=index)
    assert "return x.view(size_of(x, 0), -1)" in out.code, out.code
    # logits' type is unknown: its argmax decides at run time (uncertain until session 18)
    assert "argmax_of(logits, dim=1)" in out.code, out.code
    assert [(s.kind, s.rule) for s in out.sites if s.kind != "converted"] == []
    for rel in ("plot.py", "helpers.py"):
        same = convert_source((tmp_path / rel).read_text(), SPEC, rel, project=index)
        assert not same.changed and not same.sites

    namespace = {}
    exec(out.code.replace("from _torch_compat import", "from migrate.helpers._torch_compat import")
         .replace("import helpers\n", ""), namespace)
    import mindspore
    import numpy as np
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert namespace["flatten"](mindspore.Tensor(x)).shape == (2, 12)
    logits, labels = np.array([[0.1, 2.0], [3.0, 0.5], [0.2, 0.9]], np.float32), np.array([1, 0, 0])
    assert abs(namespace["accuracy"](mindspore.Tensor(logits), mindspore.Tensor(labels)) - 2 / 3) < 1e-6  # float32, as torch


def test_a_class_a_package_re_exports_through_a_star_import_is_known(tmp_path):
    """DeepCTR-Torch's layers/__init__.py is ``from .core import *``; its models import
    ``from ..layers import DNN``: that is core's module class, whose ``named_parameters()`` converts."""
    files = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/layers/__init__.py": "from .core import *\n",
        "pkg/layers/core.py": ("import torch.nn as nn\n\n\nclass DNN(nn.Module):\n    def __init__(self, n):\n"
                               "        super().__init__()\n        self.fc = nn.Linear(n, n)\n\n"
                               "    def forward(self, x):\n        return self.fc(x)\n"),
        "pkg/models/__init__.py": "",
        "pkg/models/m.py": ("import torch.nn as nn\nfrom ..layers import DNN\n\n\nclass Net(nn.Module):\n"
                            "    def __init__(self):\n        super().__init__()\n        self.dnn = DNN(4)\n"
                            "        self.reg = [p for n, p in self.dnn.named_parameters() if 'weight' in n]\n\n"
                            "    def forward(self, x):\n        return self.dnn(x)\n"),
    })
    index = build_index(tmp_path, files)
    assert {"pkg.layers.core.DNN", "pkg.layers.DNN"} <= index.module_classes
    out = convert_source((tmp_path / "pkg/models/m.py").read_text(), SPEC, "pkg/models/m.py", project=index)
    assert "module_named_parameters(self.dnn)" in out.code, out.code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.sites


def test_calls_through_a_package_reexport_type_the_defining_class(tmp_path):
    """GRU4REC-pytorch's layout: ``lib/__init__.py`` re-exports ``Trainer`` and ``LossFunction``
    (``from .trainer import Trainer``), and main.py builds them as ``lib.Trainer(...,
    loss_func=lib.LossFunction())``.  What those calls pass types ``Trainer.__init__``'s
    parameters as calls of ``lib.trainer.Trainer`` would, so its ``loss.backward()`` is a
    training step, not a receiver of unknown type."""
    src = tmp_path / "src"
    files = write(src, {
        "lib/__init__.py": "from .loss import LossFunction\nfrom .trainer import Trainer\nfrom .util import scale\n",
        "lib/loss.py": "import torch.nn as nn\n\n\nclass LossFunction(nn.Module):\n    def forward(self, x):\n        return x.sum()\n",
        "lib/util.py": "def scale(x, k):\n    return x * k\n",
        "lib/trainer.py": (
            "import torch\n\n\nclass Trainer:\n    def __init__(self, model, optim, loss_func):\n        self.model = model\n"
            "        self.optim = optim\n        self.loss_func = loss_func\n\n"
            "    def train_epoch(self, x):\n        self.optim.zero_grad()\n"
            "        loss = self.loss_func(self.model(x))\n        loss.backward()\n        self.optim.step()\n"
            "        return loss.item()\n"),
        "main.py": (
            "import torch\nimport lib\n\n\ndef main():\n    model = torch.nn.Linear(3, 1)\n"
            "    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)\n"
            "    trainer = lib.Trainer(model, optim=optimizer, loss_func=lib.LossFunction())\n"
            "    trainer.train_epoch(lib.scale(torch.ones(2, 3), 2))\n"),
    })
    index = build_index(src, files)
    assert index.defined_as("lib.Trainer") == "lib.trainer.Trainer"
    assert index.defined_as("lib.scale") == "lib.util.scale"
    assert index.defined_as("lib.trainer.Trainer") == "lib.trainer.Trainer"
    result = runner.run(src, tmp_path / "out")
    sites = [s for r in result.files for s in r.sites if s.kind in ("uncertain", "unsupported")]
    assert not sites, sites
    assert "value_and_grad" in (tmp_path / "out" / "lib" / "trainer.py").read_text()


def test_a_backward_stepped_by_a_project_wrapper_says_so(tmp_path):
    """GRU4REC-pytorch steps a wrapper class of its own (``lib.Optimizer``, holding a torch
    optimizer): the backward is reported with that reason, not as having no optimizer."""
    src = tmp_path / "src"
    write(src, {
        "opt.py": ("import torch\n\n\nclass Optimizer:\n    def __init__(self, params):\n"
                   "        self.optimizer = torch.optim.SGD(params, lr=0.1)\n\n"
                   "    def zero_grad(self):\n        self.optimizer.zero_grad()\n\n"
                   "    def step(self):\n        self.optimizer.step()\n"),
        "main.py": ("import torch\nfrom opt import Optimizer\n\n\ndef main():\n    model = torch.nn.Linear(3, 1)\n"
                    "    optim = Optimizer(model.parameters())\n    optim.zero_grad()\n"
                    "    loss = model(torch.ones(2, 3)).sum()\n    loss.backward()\n    optim.step()\n"),
    })
    result = runner.run(src, tmp_path / "out")
    [site] = [s for r in result.files for s in r.sites if s.rule == "torch.Tensor.backward"]
    assert site.kind == "unsupported" and "`optim`, an instance of opt.Optimizer" in site.reason, site.reason
