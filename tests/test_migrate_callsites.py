"""Parameter types read from the project's calls (migrate/callsites.py), through the runner."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migrate import runner

LOADER = """
    import torch

    def load(x, device):
        return x.to(device)
"""


def migrate(tmp_path: Path, files: dict, jobs: int = 1) -> dict:
    """Run the tool over ``files``; {relpath: [(rule, kind), ...]} of the sites it reports."""
    src = tmp_path / "src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(textwrap.dedent(text))
    result = runner.run(src, tmp_path / "out", jobs=jobs)
    return {r.path: [(s.rule, _kind(s)) for s in r.sites] for r in result.files if r.path.endswith(".py")}


def _kind(site) -> str:
    """The site's kind; ``runtime`` for one converted to a helper that decides at run time what
    the tool could not tell (``x.to(device)`` with ``device`` of unknown type: its type was
    not read from the calls)."""
    return "runtime" if site.kind == "converted" and "decides at run time" in (site.reason or "") else site.kind


def to_kind(sites: list) -> str:
    return next(kind for rule, kind in sites if rule.endswith(".to"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_call_passes_a_device_so_to_is_a_move(tmp_path, jobs):
    sites = migrate(tmp_path, {
        "loader.py": LOADER,
        "train.py": """
            import torch
            from loader import load

            class Trainer:
                def __init__(self):
                    self.device = torch.device("cpu")

                def run(self):
                    return load(torch.ones(2), self.device)

            def other():
                return load(torch.zeros(2), device=torch.device("cpu"))
        """,
    }, jobs=jobs)
    assert to_kind(sites["loader.py"]) == "converted"
    assert "return x\n" in (tmp_path / "out" / "loader.py").read_text()


CASES = {
    "one call passes a dtype": """
        import torch
        from loader import load
        load(torch.zeros(2), torch.device("cpu"))
        load(torch.zeros(2), torch.float64)
    """,
    "one call passes something unknown": """
        import torch
        from loader import load
        def f(d):  # nobody calls f: d is unknown
            return load(torch.zeros(2), d)
        load(torch.zeros(2), torch.device("cpu"))
    """,
    "the function escapes as a value": """
        import torch
        from loader import load
        load(torch.zeros(2), torch.device("cpu"))
        fns = [load]
    """,
    "a call spreads its arguments": """
        import torch
        from loader import load
        load(torch.zeros(2), torch.device("cpu"))
        load(*[torch.zeros(2), torch.device("cpu")])
    """,
    "nobody calls it": """
        import torch
        x = torch.zeros(2)
    """,
}


@pytest.mark.parametrize("caller", list(CASES.values()), ids=list(CASES))
def test_parameters_stay_unknown_unless_every_call_agrees(tmp_path, caller):
    sites = migrate(tmp_path, {"loader.py": LOADER, "main.py": caller})
    assert to_kind(sites["loader.py"]) == "runtime"


def test_a_default_counts_for_the_calls_that_leave_the_parameter_out(tmp_path):
    files = {
        "loader.py": """
            import torch

            def load(x, device=torch.device("cpu")):
                return x.to(device)
        """,
        "main.py": """
            import torch
            from loader import load
            load(torch.zeros(2))
            load(torch.zeros(2), torch.device("cpu"))
        """,
    }
    assert to_kind(migrate(tmp_path, files)["loader.py"]) == "converted"
    files["main.py"] += "load(torch.zeros(2), torch.float16)\n"
    assert to_kind(migrate(tmp_path / "again", files)["loader.py"]) == "runtime"


def test_types_flow_down_a_chain_of_calls_and_constructors(tmp_path):
    """The MAMO release's shape: a device made in the trainer, handed to a class, which hands
    it to a function in a third file (found through a star import); modules handed to a
    model's constructor."""
    sites = migrate(tmp_path, {
        "utils.py": """
            import torch

            def load(x, device):
                return x.to(device)

            def copy_into(params, values):
                for p, v in zip(params, values):
                    p.data.copy_(v)
        """,
        "models.py": """
            import torch
            from utils import *

            class Base(torch.nn.Module):
                def __init__(self, body, head):
                    super(Base, self).__init__()
                    self.body, self.head = body, head

                def reset(self, values):
                    copy_into(self.body.parameters(), values)

            class Local:
                def __init__(self, x, device):
                    self.x = load(x, device)

            class Tiny(Base):
                pass
        """,
        "main.py": """
            import torch
            from models import *

            class Run:
                def __init__(self):
                    self.device = torch.device("cpu")
                    self.model = Base(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)).to(self.device)
                    tiny = Tiny(torch.nn.Linear(2, 2), torch.nn.ReLU())
                    self.local = Local(torch.zeros(2), device=self.device)
        """,
    })
    assert to_kind(sites["utils.py"]) == "converted"
    assert ("torch.Tensor.copy_", "converted") in sites["utils.py"], sites["utils.py"]
    assert ("torch.nn.Module.parameters", "converted") in sites["models.py"], sites["models.py"]
    out = (tmp_path / "out" / "utils.py").read_text()
    assert "assign_data(p, v)" in out and "return x\n" in out, out


def test_a_file_that_does_not_parse_turns_the_inference_off(tmp_path):
    """Its calls cannot be seen, so no parameter's calls are known to be all of them."""
    sites = migrate(tmp_path, {
        "loader.py": LOADER,
        "main.py": "import torch\nfrom loader import load\nload(torch.zeros(2), torch.device('cpu'))\n",
        "broken.py": "from loader import load\ndef f(:\n",
    })
    assert to_kind(sites["loader.py"]) == "runtime"


def test_return_and_attribute_types_cross_files(tmp_path):
    """A function of another file returns what its returns give; an instance of another
    file's class has the attributes its methods assign."""
    sites = migrate(tmp_path, {
        "utils.py": """
            import numpy as np
            import torch

            def to_torch(xs):
                return torch.from_numpy(np.array(xs))

            def maybe(xs):
                if xs:
                    return torch.zeros(2)
        """,
        "heads.py": """
            import torch

            class Head(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.mem_layer = torch.nn.Linear(2, 2)
                    self.scale = torch.ones(2)
        """,
        "main.py": """
            import torch
            from utils import to_torch, maybe
            from heads import Head

            def run(xs):
                head = Head()
                a = to_torch(xs).log_softmax(dim=1)
                b = maybe(xs).log_softmax(dim=1)
                c = head.scale.log_softmax(dim=1)
                return list(head.mem_layer.parameters()), a, b, c
        """,
    })
    kinds = [kind for rule, kind in sites["main.py"] if rule in ("torch.Tensor.log_softmax", "torch.nn.Module.parameters")]
    assert kinds == ["converted", "uncertain", "converted", "converted"], sites["main.py"]


CONSTRUCTIONS = {
    "a classmethod builds cls(...)": """
        @classmethod
        def make(cls, d):
            return cls(d)
    """,
    "type(self)(...)": """
        def copy(self, d):
            return type(self)(d)
    """,
    "self.__class__(...)": """
        def copy(self, d):
            return self.__class__(d)
    """,
}


@pytest.mark.parametrize("method", list(CONSTRUCTIONS.values()), ids=list(CONSTRUCTIONS))
def test_constructions_we_cannot_read_keep_init_parameters_unknown(tmp_path, method):
    body = textwrap.indent(textwrap.dedent(method), "    ")
    sites = migrate(tmp_path, {
        "model.py": "import torch\n\n\nclass Holder:\n    def __init__(self, device):\n"
                    "        self.x = torch.zeros(2).to(device)\n\n" + body,
        "main.py": "import torch\nfrom model import Holder\nHolder(torch.device('cpu'))\n",
    })
    assert to_kind(sites["model.py"]) == "runtime"


def test_a_function_defined_twice_keeps_its_parameters_unknown(tmp_path):
    sites = migrate(tmp_path, {
        "loader.py": textwrap.dedent(LOADER) + "\nif True:\n    def load(x, device):\n        return x\n",
        "main.py": "import torch\nfrom loader import load\nload(torch.zeros(2), torch.device('cpu'))\n",
    })
    assert to_kind(sites["loader.py"]) == "runtime"


def test_rounds_read_again_only_files_whose_inference_read_a_changed_fact(tmp_path, monkeypatch):
    """Round 1 types load()'s parameters; reading loader.py again gives its return type; then
    only train.py, whose inference asked for that return type, is read again.  notes.py names
    load but never asks what it returns, so it is read once."""
    reads = {}
    collect = runner._WORK["facts"]

    def counting(task):
        reads[task[0]] = reads.get(task[0], 0) + 1
        return collect(task)

    monkeypatch.setitem(runner._WORK, "facts", counting)
    sites = migrate(tmp_path, {
        "loader.py": LOADER,
        "train.py": """
            import torch
            from loader import load

            def run():
                y = load(torch.ones(2), torch.device("cpu"))
                return y.cpu()
        """,
        "notes.py": """
            import torch
            from loader import load  # load is re-exported, never called here

            def describe(t: torch.Tensor):
                return t.cpu()
        """,
    })
    assert ("torch.Tensor.cpu", "converted") in sites["train.py"]
    assert reads["notes.py"] == 1
    assert reads["loader.py"] == 2 and reads["train.py"] == 2


TRAINER = """
    import torch

    class Trainer:
        def __init__(self, model):
            self.model = model

        def fit(self, loader, device):
            for x, y in loader:
                x = x.to(device)
            return self.check(x)

        def check(self, batch):
            return batch.cpu()
"""
MAIN = """
    import torch
    from torch.utils.data import DataLoader
    from trainer import Trainer

    t = Trainer(torch.nn.Linear(2, 2))
    t.fit(DataLoader([torch.zeros(2)] * 4, batch_size=2), torch.device("cpu"))
"""


def test_method_parameters_from_calls_on_known_instances(tmp_path):
    """t.fit(loader, device) on a Trainer, and self.check(x) inside it: fit's device is a device
    (so x.to(device) is a move) and check's batch a tensor (so batch.cpu() converts)."""
    sites = migrate(tmp_path, {"trainer.py": TRAINER, "main.py": MAIN})
    assert ("torch.Tensor.to", "converted") in sites["trainer.py"]
    assert ("torch.Tensor.cpu", "converted") in sites["trainer.py"]


OPEN_METHODS = {
    "called on an unknown receiver": "def go(obj):\n    obj.fit(None, None)\n",
    "read without a call": "def go(t):\n    callbacks = [t.fit]\n",
    "defined by another class too": "class Other:\n    def fit(self, loader, device):\n        return device\n",
}


@pytest.mark.parametrize("extra", list(OPEN_METHODS.values()), ids=list(OPEN_METHODS))
def test_methods_something_unseen_may_call_stay_untyped(tmp_path, extra):
    sites = migrate(tmp_path, {"trainer.py": TRAINER, "main.py": MAIN, "other.py": extra})
    assert ("torch.Tensor.to", "runtime") in sites["trainer.py"]


@pytest.mark.parametrize("name", ["step", "forward", "train", "__call__"])
def test_methods_torch_may_call_stay_untyped(tmp_path, name):
    """An override of a method torch's base classes define (Optimizer.step, Module.forward,
    Module.train...) may be called by torch itself with arguments SRC never shows."""
    trainer = TRAINER.replace("def fit(", f"def {name}(").replace("self.check(x)", "x")
    main = MAIN.replace("t.fit(", f"t.{name}(")
    sites = migrate(tmp_path, {"trainer.py": trainer, "main.py": main})
    assert ("torch.Tensor.to", "runtime") in sites["trainer.py"]


def test_an_unknown_receiver_in_a_file_naming_nothing_else_of_src_still_counts(tmp_path):
    """other.py names no function or class of SRC, only calls .fit on something unknown: that
    call may reach Trainer.fit, so fit stays untyped."""
    sites = migrate(tmp_path, {"trainer.py": TRAINER, "main.py": MAIN,
                               "other.py": "import torch\n\nresults = [o.fit(1, 2) for o in objects]\n"})
    assert ("torch.Tensor.to", "runtime") in sites["trainer.py"]


# --------------------------------------------------------------------------
# forward of SRC's modules, typed from the calls of their instances

BLOCKS = """
    import torch
    import torch.nn as nn

    class Shuffle(nn.Module):
        def __init__(self, groups=2):
            super().__init__()
            self.groups = groups

        def forward(self, x):
            n, c, h, w = x.size()
            return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)
            self.shuffle = Shuffle()

        def forward(self, x):
            return self.shuffle(self.conv(x))
"""


def shuffle_sites(sites: list) -> list:
    return [kind for rule, kind in sites if rule == "torch.Tensor.size"]


def test_forward_parameters_are_typed_by_the_calls_of_the_instances(tmp_path):
    """self.shuffle(self.conv(x)) passes a tensor, and Shuffle's only instance is that one:
    x.size() in Shuffle.forward converts (it used to stay uncertain: nothing but the method
    name says x is a tensor there)."""
    sites = migrate(tmp_path, {"blocks.py": BLOCKS})
    assert shuffle_sites(sites["blocks.py"]) == ["converted"]
    assert ("torch.Tensor.view", "converted") in sites["blocks.py"]


CALL = "return self.shuffle(self.conv(x))"
#: each keeps the call self.shuffle(...) that types Shuffle.forward, and adds what makes it untypable
ESCAPES = {
    "another instance built into a Sequential": (
        "self.shuffle = Shuffle()", "self.shuffle = Shuffle()\n            self.more = nn.Sequential(Shuffle())"),
    "another instance appended to a list": (
        "self.shuffle = Shuffle()", "self.shuffle = Shuffle()\n            layers = []\n"
                                    "            layers.append(Shuffle())"),
    "the instance passed on": (CALL, "register(self.shuffle)\n            " + CALL),
    "the instance returned": (CALL, "y = self.shuffle(self.conv(x))\n            return y, self.shuffle"),
    "a module reached by a computed name": (CALL, "hook = getattr(self, 'shuf' + 'fle')\n            " + CALL),
    "a module of unknown class called": (CALL, "for m in self.children():\n                x = m(x)\n            " + CALL),
    "an unknown receiver's forward": (CALL, "return other.forward(self.shuffle(self.conv(x)))"),
    "overridden by a subclass": ("class Net(nn.Module):", "class Wide(Shuffle):\n"
                                 "        def forward(self, x):\n            return x\n\n    class Net(nn.Module):"),
}


@pytest.mark.parametrize("case", list(ESCAPES), ids=list(ESCAPES))
def test_forward_stays_untyped_where_an_instance_escapes_or_anything_may_be_called(tmp_path, case):
    old, new = ESCAPES[case]
    assert old in BLOCKS
    source = BLOCKS.replace(old, new)
    sites = migrate(tmp_path, {"blocks.py": source})
    assert shuffle_sites(sites["blocks.py"]) == ["runtime"], case  # size_of(x) decides at run time


def test_forward_of_a_plain_class_stays_untyped(tmp_path):
    """Only nn.Module classes: their instances are what the escape rules follow."""
    source = BLOCKS.replace("class Shuffle(nn.Module):", "class Shuffle:").replace(
        "            super().__init__()\n            self.groups", "            self.groups")
    source = source.replace("return self.shuffle(self.conv(x))", "return self.shuffle.forward(self.conv(x))")
    sites = migrate(tmp_path, {"blocks.py": source})
    assert shuffle_sites(sites["blocks.py"]) == ["runtime"]


def test_a_library_module_reached_through_a_star_import_is_no_tensor(tmp_path):
    """SASRec's main.py gets ``np`` only from ``from utils import *`` (utils did ``import numpy as
    np``): ``np.where(...)`` is numpy's function, not a tensor's method of unknown receiver; a
    name of SRC's own reached the same way keeps its project types (``helper().softmax`` is
    still asked about)."""
    sites = migrate(tmp_path, {
        "utils.py": """
            import numpy as np
            import torch

            def helper(x):
                return x
        """,
        "main.py": """
            import torch
            from utils import *

            def run(pos, scores):
                idx = np.where(pos != 0)
                order = np.argsort(scores)
                return idx, order, helper(scores).log_softmax(dim=0)
        """,
    })
    assert sites["main.py"] == [("torch.Tensor.log_softmax", "uncertain")], sites["main.py"]
