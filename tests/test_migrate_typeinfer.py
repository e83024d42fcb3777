"""Receiver types: a tensor method is converted only where the receiver is
KNOWN to be a torch tensor; these pin down what counts as known."""

from __future__ import annotations

import textwrap

import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()


def kinds(src: str) -> list[tuple[str, str]]:
    """(kind, rule) of the torch.Tensor.log_softmax sites (a member with no untyped helper: an unknown receiver stays uncertain) in ``src``."""
    out = convert_source(textwrap.dedent(src), SPEC, "x.py")
    return [s.kind for s in out.sites if s.rule == "torch.Tensor.log_softmax"]


KNOWN = {
    "annotation": """
        import torch
        def f(x: torch.Tensor):
            return x.log_softmax(dim=1)
    """,
    "from torch import Tensor, Optional[Tensor]": """
        from typing import Optional
        from torch import Tensor
        def f(x: Optional[Tensor]):
            return x.log_softmax(dim=1)
    """,
    "result of a table call": """
        import torch
        h = torch.zeros(2, 3)
        y = h.log_softmax(dim=1)
    """,
    "tensor method chain and arithmetic": """
        import torch
        def f(x: torch.Tensor):
            y = (x.float() * 2 + 1)[0]
            return y.log_softmax(dim=1)
    """,
    "self attribute assigned a Parameter": """
        import torch
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.zeros(3))
            def forward(self, x):
                return self.w.log_softmax(dim=1)
    """,
    "calling a module attribute": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x).log_softmax(dim=1)
    """,
    "loop over a tensor list": """
        import torch
        from typing import List
        def f(xs: List[torch.Tensor]):
            for t in xs:
                t.log_softmax(dim=1)
    """,
    "named_parameters pairs": """
        import torch.nn as nn
        model = nn.Linear(2, 2)
        for name, p in model.named_parameters():
            p.log_softmax(dim=1)
    """,
    "loop-carried tensor": """
        import torch
        h = torch.zeros(3)
        for _ in range(3):
            h = h + 1
        h.log_softmax(dim=1)
    """,
    "registered buffer": """
        import torch
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mask", torch.ones(3))
            def forward(self, x):
                return self.mask.log_softmax(dim=1)
    """,
    "local function with return annotation": """
        import torch
        def make() -> torch.Tensor:
            return torch.zeros(2)
        make().log_softmax(dim=1)
    """,
    "unannotated local function: what its returns give": """
        import numpy as np
        import torch
        def to_torch(xs):
            return torch.from_numpy(np.array(xs))
        to_torch([1, 2]).log_softmax(dim=1)
    """,
    "unannotated function: every branch returns a tensor": """
        import torch
        def make(c):
            if c:
                return torch.zeros(2)
            elif c is None:
                return torch.ones(2)
            else:
                raise ValueError(c)
        make(1).log_softmax(dim=1)
    """,
    "recursion: the other returns decide": """
        import torch
        def make(n):
            if n:
                return make(n - 1) + 1
            return torch.zeros(2)
        make(3).log_softmax(dim=1)
    """,
    "forward input handed to a torch layer": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                n = x.log_softmax(dim=1)
                return self.fc(x), n
    """,
    "input handed to a tensor-only torch function": """
        import torch
        import torch.nn.functional as F
        def f(x, w):
            y = F.relu(x)
            return x.log_softmax(dim=1) + y
    """,
    "input handed to a module of this file whose forward's input is a tensor": """
        import torch.nn as nn
        class Inner(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln = nn.LayerNorm(4)
            def forward(self, h):
                return self.ln(h)
        class Outer(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = Inner()
            def forward(self, x):
                return self.inner(x) + x.log_softmax(dim=1)
    """,
    "target handed to a torch loss function": """
        import torch.nn.functional as F
        def step(pred, target):
            loss = F.mse_loss(pred, target)
            return loss, target.log_softmax(dim=1)
    """,
    "target handed to a loss module": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.loss = nn.CrossEntropyLoss()
            def forward(self, logits, labels):
                return self.loss(logits, labels), labels.log_softmax(dim=1)
    """,
    "item of a comprehension of tuples": """
        import torch
        def f(scenario: torch.Tensor):
            groups = [(name, scenario == k) for k, name in enumerate(["a", "b"])]
            for name, mask in groups:
                mask.log_softmax(dim=1)
    """,
    "reshaped, then handed to a loss": """
        import torch.nn.functional as F
        def step(pred, y):
            loss = F.mse_loss(pred, y.view(-1, 1))
            return loss, y.log_softmax(dim=1)
    """,
    "through .data and a cast, then to a layer": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                return self.fc(x.data.float()), x.log_softmax(dim=1)
    """,
    "element of the tensors torch.cat joins": """
        import torch
        def f(x, h):
            n, _ = x.size()
            return torch.cat((x, h), dim=1), x.log_softmax(dim=1)
    """,
    "second operand of a matrix product": """
        import torch
        def f(a, b):
            return torch.matmul(a, b) + b.log_softmax(dim=1)
    """,
    "isinstance test guarding the block": """
        import torch
        def f(x, n):
            if isinstance(x, torch.Tensor) and n > 0:
                return x.log_softmax(dim=1)
            return x
    """,
    "isinstance test of an elif": """
        import numpy as np
        import torch
        def f(x):
            if isinstance(x, np.ndarray):
                return x
            elif isinstance(x, torch.Tensor):
                return x.log_softmax(dim=1)
    """,
    "method without annotation, under no_grad": """
        import torch
        import torch.nn as nn
        class M(nn.Module):
            @torch.no_grad()
            def mask(self):
                return torch.ones(3)
            def forward(self, x):
                return self.mask().log_softmax(dim=1)
    """,
}


@pytest.mark.parametrize("src", list(KNOWN.values()), ids=list(KNOWN))
def test_known_tensor_receivers_convert(src):
    assert kinds(src) == ["converted"]


UNKNOWN = {
    "second argument of a function that takes anything there": """
        import torch
        def f(x, n):
            return torch.pow(x, n), n.log_softmax(dim=1)
    """,
    "second argument of a layer with one input": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x, h):
                return self.fc(x, h), h.log_softmax(dim=1)
    """,
    "second argument passed to isinstance after a loss": """
        import torch.nn.functional as F
        def step(pred, target):
            if isinstance(target, list):
                return None
            return F.mse_loss(pred, target), target.log_softmax(dim=1)
    """,
    "reshaped, then handed to numpy": """
        import numpy as np
        import torch
        def f(y):
            return np.sum(y.reshape(-1)), y.log_softmax(dim=1)
    """,
    "element of a sequence given to something else": """
        import torch
        def f(x):
            return max((x, 1)), x.log_softmax(dim=1)
    """,
    "unannotated parameter": """
        import torch
        def f(x):
            return x.log_softmax(dim=1)
    """,
    "branches disagree": """
        import numpy as np
        import torch
        def f(c):
            if c:
                x = torch.zeros(3)
            else:
                x = np.zeros(3)
            return x.log_softmax(dim=1)
    """,
    "rebound in a loop after the use": """
        import numpy as np
        import torch
        x = torch.zeros(3)
        for _ in range(2):
            x.log_softmax(dim=1)
            x = np.zeros(3)
    """,
    "unknown function result": """
        import torch
        from mylib import make
        make().log_softmax(dim=1)
    """,
    "input rebound before its use": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                x.log_softmax(dim=1)
                if isinstance(x, list):
                    x = x[0]
                return self.fc(x)
    """,
    "input checked with isinstance": """
        import torch
        import torch.nn.functional as F
        def f(x):
            if isinstance(x, (list, tuple)):
                return [v * 2 for v in x]
            x.log_softmax(dim=1)
            return F.relu(x)
    """,
    "after the isinstance block, or in its else": """
        import torch
        def f(x):
            if isinstance(x, torch.Tensor):
                pass
            else:
                x = x
            return x.log_softmax(dim=1)
    """,
    "isinstance under or": """
        import torch
        def f(x, y):
            if isinstance(x, torch.Tensor) or y:
                return x.log_softmax(dim=1)
    """,
    "input handed to a container": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(4, 4))
            def forward(self, x):
                x.log_softmax(dim=1)
                return self.body(x)
    """,
    "input handed to a function that takes numbers too": """
        import torch
        def f(x):
            x.log_softmax(dim=1)
            return torch.add(x, 1)
    """,
    "unannotated function that can fall off its end": """
        import torch
        def make(c):
            if c:
                return torch.zeros(2)
        make(1).log_softmax(dim=1)
    """,
    "unannotated function whose returns disagree": """
        import numpy as np
        import torch
        def make(c):
            if c:
                return torch.zeros(2)
            return np.zeros(2)
        make(1).log_softmax(dim=1)
    """,
    "generator": """
        import torch
        def make():
            yield torch.zeros(2)
            return torch.zeros(2)
        make().log_softmax(dim=1)
    """,
    "unknown decorator": """
        import torch
        from mylib import cached
        @cached
        def make():
            return torch.zeros(2)
        make().log_softmax(dim=1)
    """,
    "method a subclass overrides": """
        import numpy as np
        import torch
        import torch.nn as nn
        class A(nn.Module):
            def mask(self):
                return torch.ones(3)
            def forward(self, x):
                return self.mask().log_softmax(dim=1)
        class B(A):
            def mask(self):
                return np.ones(3)
    """,
}


UNKNOWN["`open` rebound to something else"] = """
    import torch
    def f(open, x):
        with open(x) as t:
            t.log_softmax(dim=1)
"""


@pytest.mark.parametrize("src", list(UNKNOWN.values()), ids=list(UNKNOWN))
def test_unknown_receivers_are_uncertain(src):
    assert kinds(src) == ["uncertain"]


NOT_TENSORS = {
    "text read from a file": """
        import torch
        with open("ratings.txt") as fd:
            line = fd.readline().strip()
        line.log_softmax(dim=1)
    """,
    "a line of a file iterated in a with block": """
        import torch
        with open("corpus.txt", encoding="utf8") as fd:
            for line in fd:
                line.log_softmax(dim=1)
    """,
    "a line of io.open / codecs.open (word_language_model: from io import open)": """
        import codecs
        from io import open
        import torch
        with open("corpus.txt", encoding="utf8") as fd:
            for line in fd:
                line.log_softmax(dim=1)
        for line in codecs.open("other.txt"):
            line.log_softmax(dim=1)
    """,
    "a word of a line of readlines()": """
        import torch
        for row in open("corpus.txt").readlines():
            for word in row.split(","):
                word.log_softmax(dim=1)
    """,
    "numpy array": """
        import numpy as np
        import torch
        a = np.zeros((2, 2))
        a.log_softmax(dim=1)
    """,
    "list literal": """
        import torch
        xs = [1, 2]
        xs.log_softmax(dim=1)
    """,
    "later reassignment is flow-sensitive": """
        import numpy as np
        import torch
        x = torch.zeros(3)
        x = np.zeros(3)
        x.log_softmax(dim=1)
    """,
}


@pytest.mark.parametrize("src", list(NOT_TENSORS.values()), ids=list(NOT_TENSORS))
def test_known_non_tensors_count_nowhere(src):
    assert kinds(src) == []


def test_reassignment_to_tensor_after_numpy_is_known():
    assert kinds("""
        import numpy as np
        import torch
        x = np.zeros(3)
        x = torch.from_numpy(x)
        x.log_softmax(dim=1)
    """) == ["converted"]


INIT_WEIGHTS = """
    import torch.nn as nn
    def init_weights(m):
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, 0.02)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1.0)
            m.running_var.fill_(1.0)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            m.bias.data.zero_()
        elif isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.data.zero_()
"""


def test_isinstance_narrows_a_module_and_a_mixed_rename_is_looked_up_at_run_time():
    """The usual init function (``model.apply(init_weights)``): each branch knows its layer, so
    its Parameters are renamed (BatchNorm's weight is gamma, running_var moving_variance) and
    written in place; Linear and Embedding together cannot be renamed by the tool, one says
    weight and the other embedding_table, so that read goes through ``layer_attr``."""
    out = convert_source(textwrap.dedent(INIT_WEIGHTS), SPEC, "x.py")
    code = out.code
    assert "assign_data(m.weight, 0.0 + 0.02 * ops.randn_like(m.weight))" in code
    assert "assign_data(m.bias, ops.zeros_like(m.bias))" in code
    assert "assign_data(m.gamma, ops.full_like(m.gamma, 1.0))" in code
    assert "assign_data(m.moving_variance, ops.full_like(m.moving_variance, 1.0))" in code
    assert 'assign_data(layer_attr(m, "weight"), ops.zeros_like(layer_attr(m, "weight")))' in code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")]
    site = next(s for s in out.sites if s.rule == "torch.nn.Module.weight" and "layer_attr" in s.reason)
    assert site.kind == "converted" and "Embedding `embedding_table`" in site.reason


def test_what_torch_load_returns_is_any_object():
    """A checkpoint is often a dict of anything (``{"state": ..., "epoch": ...}``): an item of
    ``torch.load(f)`` is not known to be a tensor, so dict methods on it are not reported as
    tensor members with no mapping (they were: ``torch.Tensor.keys``, ``torch.Tensor.pop``), while
    ``model.state_dict()``'s items stay tensors."""
    out = convert_source(textwrap.dedent("""
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 2)
        tmp = torch.load("ckpt.pt")
        state = tmp["state"]
        for key in list(state.keys()):
            state[key.replace("feature.", "")] = state.pop(key)
        model.load_state_dict(state)
        w = model.state_dict()["weight"].log_softmax(dim=1)
    """), SPEC, "x.py")
    reported = {s.rule for s in out.sites if s.kind != "converted"}
    assert not {"torch.Tensor.keys", "torch.Tensor.pop"} & reported, reported
    assert [s.kind for s in out.sites if s.rule == "torch.Tensor.log_softmax"] == ["converted"]


def test_scipy_and_pandas_values_are_not_taken_for_tensors():
    """scipy's sparse matrices and pandas' frames have methods named like torch's (sum, unique,
    nonzero, dot): read as numpy's, they stay as they are and are not reported uncertain."""
    source = ("import numpy as np\nimport pandas as pd\nimport scipy.sparse as sp\nimport torch\nfrom scipy.sparse import csr_matrix\n\n\n"
              "class Loader:\n"
              "    def __init__(self, path, rows, cols):\n"
              "        self.df = pd.read_csv(path)\n"
              "        self.net = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(4, 4))\n"
              "        self.degree = np.array(self.net.sum(axis=1)).squeeze()\n"
              "        adj = sp.dok_matrix((4, 4), dtype=np.float32).tolil().todok()\n"
              "        d_mat = sp.diags(np.ones(4))\n"
              "        self.norm = d_mat.dot(adj).dot(d_mat)\n"
              "        self.items = self.df.item.unique()\n"
              "        self.first = self.net[0].nonzero()\n")
    out = convert_source(source, SPEC, "stats.py")
    assert out.code == source
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.sites


def test_a_deep_copy_has_the_type_of_what_it_copies():
    """``teacher = copy.deepcopy(model)`` (mean teacher, EMA, target networks): the copy is a
    module as the original is, so its ``parameters()`` converts (it was taken for a standard
    library object and left as it was, without a word)."""
    src = """
import copy
import torch.nn as nn
def run(model: nn.Module, net):
    teacher = copy.deepcopy(model)
    shallow = copy.copy(net)
    return [p for p in teacher.parameters()], [p for p in shallow.parameters()]
"""
    out = convert_source(src, SPEC, "ema.py")
    assert "teacher.parameters()" not in out.code and "shallow.parameters()" not in out.code, out.code
    assert [s.kind for s in out.sites if s.rule == "torch.nn.Module.parameters"] == ["converted", "converted"]
