"""migrate/comprehensions.py: list comprehensions of a compiled construct written as loops,
only where that provably means the same, and the graph it gives compiles faster."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from migrate.comprehensions import CONSUMERS, loops_for_comprehensions


def rewrite(source: str) -> tuple[str, int]:
    module = cst.parse_module(textwrap.dedent(source))
    fdef, count, _ = loops_for_comprehensions(module.body[0])
    return module.with_changes(body=[fdef]).code, count


def run(source: str, *args):
    namespace: dict = {}
    exec(compile(source, "<case>", "exec"), namespace)
    return namespace["f"](*args)


# (source, rewritten count, arguments): each is run before and after the rewrite
CASES = [
    ("def f(xs):\n    ys = [x * 2 for x in xs]\n    return ys\n", 1, ([1, 2, 3],)),
    ("def f(xs):\n    return [x + 1 for x in xs if x % 2]\n", 1, ([1, 2, 3],)),
    ("def f(xs):\n    return sum([x for x in xs], 0) + len([y for y in xs if y > 1])\n", 2, ([1, 2, 3],)),
    ("def f(xs):\n    return [[a * b for b in xs if b] for a in xs for c in range(a)]\n", 2, ([0, 1, 2],)),
    ("def f(xs):\n    xs = [xs[i] + i for i in range(len(xs))]\n    return xs\n", 1, ([5, 6],)),  # reads its own target
    ("def f(xs):\n    out = [(i, x) for i, x in enumerate(xs)]\n    return out\n", 1, ([7, 8],)),
    ("def f(xs):\n    a = [x for x in xs]\n    b = [x * 3 for x in xs]  # same loop variable twice\n    return a + b\n", 2, ([1, 2],)),
    ("def f(xs):\n    if xs:\n        return [x for x in xs]\n    else:\n        return [-1 for _ in range(2)]\n", 2, ([4],)),
    ("def f(xs):\n    for k in range(2):\n        xs = [x + k for x in xs]\n    return xs\n", 1, ([1],)),
    # the inner comprehension shadows the outer one's variable, which its statement reads
    # again after it: the outer becomes a loop, the inner stays a comprehension
    ("def f(rows):\n    return [([a * 2 for a in a], a) for a in rows]\n", 1, ([[1, 2], [3]],)),
    # left alone: the loop variable means something else outside the comprehension
    ("def f(xs):\n    x = 10\n    ys = [x for x in xs]\n    return ys, x\n", 0, ([1, 2],)),
    ("def f(x):\n    return [x for x in range(3)], x\n", 0, (9,)),
    ("def f(xs):\n    ys = [x for x in xs]\n    for x in xs:\n        pass\n    return ys\n", 0, ([1],)),
    # left alone: may not be evaluated, a lambda captures the variable, walrus binds outside
    ("def f(xs):\n    return xs and [x for x in xs]\n", 0, ([1],)),
    ("def f(xs):\n    return [x for x in xs] if xs else None\n", 0, ([1],)),
    ("def f(xs):\n    return [(lambda: x)() for x in xs]\n", 0, ([1, 2],)),
    ("def f(xs):\n    return [y := x for x in xs], y\n", 0, ([1, 2],)),
    ("def f(xs):\n    return {x for x in xs}, {x: x for x in xs}, (x for x in xs).__next__()\n", 0, ([1, 2],)),
]

# generators handed whole to a builtin: (source, generators read as lists, loops, arguments)
GENERATORS = [
    ("def f(xs):\n    return sum(x * x for x in xs)\n", 1, 1, ([1, 2, 3],)),
    ("def f(xs):\n    return sum((x for x in xs), 10), max(y for y in xs if y < 3)\n", 2, 2, ([1, 2, 3],)),
    ("def f(xs):\n    return tuple(x + 1 for x in xs), list(y for y in xs), sorted(-z for z in xs)\n", 3, 3, ([2, 1],)),
    ("def f(xs):\n    return min(x for x in xs) if xs else 0\n", 1, 0, ([4, 5],)),  # a list, not hoisted
    ("def f(xs):\n    return any(x > 1 for x in xs), all(x for x in xs)\n", 0, 0, ([1, 2],)),  # stop early
    ("def f(xs):\n    return list(zip(xs, (x for x in xs)))\n", 0, 0, ([1, 2],)),  # not the consumed argument
]


@pytest.mark.parametrize("source,count,args", CASES)
def test_rewrite_keeps_the_meaning(source, count, args):
    code, n = rewrite(source)
    assert n == count, code
    if count:
        assert "for " in code and ".append(" in code
    else:
        assert code == textwrap.dedent(source)
    assert run(code, *args) == run(source, *args), code


@pytest.mark.parametrize("source,generators,loops,args", GENERATORS)
def test_consumed_generators_become_lists(source, generators, loops, args):
    module = cst.parse_module(source)
    fdef, n_loops, n_generators = loops_for_comprehensions(module.body[0], consumers=CONSUMERS)
    code = module.with_changes(body=[fdef]).code
    assert (n_generators, n_loops) == (generators, loops), code
    # without the caller's word that the names are Python's builtins, generators stay
    _, _, none = loops_for_comprehensions(module.body[0])
    assert none == 0
    if not generators:
        assert code == source
    assert run(code, *args) == run(source, *args), code


def test_assigned_name_is_the_accumulator_and_fresh_names_do_not_collide():
    code, n = rewrite("""\
        def f(xs, _items0):
            ys = [x for x in xs]  # kept comment
            return [x + _items0 for x in ys]
        """)
    assert n == 2
    assert "ys = []  # kept comment" in code
    assert "_items1 = []" in code and "_items0 = []" not in code
    assert run(code, [1, 2], 10) == [11, 12]


def test_nothing_to_rewrite_returns_the_same_node():
    module = cst.parse_module("def f(xs):\n    return xs\n")
    fdef, count, generators = loops_for_comprehensions(module.body[0])
    assert count == 0 and generators == 0 and fdef is module.body[0]


def test_rewritten_construct_matches_pynative_under_jit(tmp_path, monkeypatch):
    """The loop form compiles under mindspore.jit and gives the comprehension's values."""
    mindspore = pytest.importorskip("mindspore")
    import numpy as np

    source = textwrap.dedent("""\
        import mindspore
        from mindspore import ops


        def f(*grads):
            n = grads[0].shape[0]
            squares = [ops.sum(ops.mul(g, g).view(n, -1), dim=1) for g in grads]
            total = ops.sqrt(ops.sum(ops.stack(squares, axis=1), dim=1))
            return [g / total.view(n, *([1] * (g.ndim - 1))) for g in grads]
        """)
    module = cst.parse_module(source)
    index = next(i for i, s in enumerate(module.body) if isinstance(s, cst.FunctionDef))
    fdef, count, _ = loops_for_comprehensions(module.body[index])
    assert count == 2
    looped = module.with_changes(body=[*module.body[:index], fdef]).code
    (tmp_path / "case_comp.py").write_text(source)
    (tmp_path / "case_loop.py").write_text(looped)
    monkeypatch.syspath_prepend(str(tmp_path))
    import case_comp
    import case_loop

    rng = np.random.default_rng(0)
    grads = [mindspore.Tensor(rng.standard_normal(s).astype(np.float32)) for s in [(2, 3), (2, 4, 5), (2,)]]
    expected = case_comp.f(*grads)
    got = mindspore.jit(case_loop.f)(*grads)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.asnumpy(), e.asnumpy(), rtol=1e-6)


# ---------------------------------------------------------------- property: same meaning
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VARS = ("x", "y", "z")


@st.composite
def _comprehension(draw, depth=0):
    outer = draw(st.sampled_from(_VARS))
    clauses = [f"for {outer} in {draw(st.sampled_from(['xs', 'ys', 'range(3)']))}"]
    bound = [outer]
    if draw(st.booleans()):
        clauses.append(f"if {outer} % 2")
    if draw(st.booleans()):
        inner = draw(st.sampled_from(_VARS))
        clauses.append(f"for {inner} in {draw(st.sampled_from(['ys', 'range(2)']))}")
        bound.append(inner)
    element = draw(st.sampled_from([f"{bound[-1]}", f"{bound[0]} * 10 + {bound[-1]}", f"({bound[0]}, {bound[-1]})"]))
    if depth == 0 and draw(st.booleans()):
        element = f"({draw(_comprehension(depth=1))}, {bound[0]})"
    return f"[{element} {' '.join(clauses)}]"


@st.composite
def _function(draw):
    lines = ["def f(xs, ys):"]
    if draw(st.booleans()):
        lines.append(f"    {draw(st.sampled_from(_VARS))} = 7")
    shape = draw(st.sampled_from(["r = {c}", "r = len({c}) + sum([1 for _ in xs])", "r = [{c}, {c}]"]))
    lines.append("    " + shape.format(c=draw(_comprehension())))
    tail = draw(st.sampled_from(["r", "r, x" if "x = 7" in "\n".join(lines) else "r", "r, sum(xs)"]))
    lines.append(f"    return {tail}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(_function(), st.lists(st.integers(-3, 3), max_size=4), st.lists(st.integers(-3, 3), max_size=3))
def test_property_rewritten_functions_compute_the_same(source, xs, ys):
    code, _ = rewrite(source)
    assert run(code, xs, ys) == run(source, xs, ys), code
