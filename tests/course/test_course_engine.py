"""Assignment 1 (engine): its parts are graded apart, and its checks can fail.

In process, on the library: a part's cases must pass with every OTHER part's functions broken (raising),
so a student who has written only ``topological_order`` gets that part's points; the order checks, the
in-place check and the broadcast-shape contract of ``op_backward`` catch what they claim to catch.
The kit-level grading (untouched 0, reference 100, planted mistakes) is in test_assignments.py.
"""
import functools
import importlib

import numpy as np
import pytest

from minidense.assignments import ASSIGNMENTS
from minidense.assignments.cases import case_rng, make_cases, public_rng
from minidense.assignments.grading import compare, harness
from minidense.ops import arith, elementwise, reduce

tensor = importlib.import_module("minidense.tensor")   # the module (``minidense.tensor`` is also md.tensor)

SPEC = ASSIGNMENTS["engine"]
PARTS = [p.name for p in SPEC.parts]
OPS = [(arith.Mul, "backward"), (arith.Div, "backward"), (arith.MatMul, "backward"), (reduce.Sum, "backward"),
       (reduce.Mean, "backward"), (elementwise.Exp, "backward"), (elementwise.Log, "backward"),
       (elementwise.ReLU, "backward"), (reduce, "_expand")]


@functools.lru_cache(maxsize=None)
def cases(part, public):
    """The part's cases (public, or one student's hidden ones) with the reference's outputs as "expected"."""
    index = PARTS.index(part)
    rng = public_rng(index) if public else case_rng(8142, "student-a", index)
    out = []
    for case in make_cases(SPEC, part, rng, public):
        case["expected"] = harness.FUNCTIONS[case["fn"]](case["inputs"], case["params"])   # the reference
        out.append(case)
    return out


def run(case):
    """None when the case passes with the library as it is now, else the problem (an exception counts)."""
    try:
        got = harness.FUNCTIONS[case["fn"]](case["inputs"], case["params"])
    except Exception as exc:   # noqa: BLE001 - a student's error is a failed case
        return f"{type(exc).__name__}: {exc}"
    return compare.check_case(case, case["expected"], got)


def _raiser(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"{name}: stubbed by the test")
    return stub


def break_all_but(monkeypatch, keep):
    """Every function of the assignment raises, except those of part ``keep``."""
    if keep != "topological_order":
        monkeypatch.setattr(tensor, "topological_order", _raiser("topological_order"))
    if keep != "unbroadcast":
        monkeypatch.setattr(tensor, "unbroadcast", _raiser("unbroadcast"))
    if keep != "op_backward":
        for owner, name in OPS:
            monkeypatch.setattr(owner, name, _raiser(name))


def test_the_stubbed_functions_are_the_ones_the_test_breaks():
    named = {f"{owner.__name__.rsplit('.', 1)[-1]}.{name}" if isinstance(owner, type) else name for owner, name in OPS}
    assert named | {"topological_order", "unbroadcast"} == {q for names in SPEC.stubs.values() for q in names}


@pytest.mark.parametrize("part", ["topological_order", "unbroadcast", "op_backward"])
@pytest.mark.parametrize("public", [True, False], ids=["public", "hidden"])
def test_each_part_passes_with_every_other_part_broken(part, public, monkeypatch):
    todo = cases(part, public)
    break_all_but(monkeypatch, part)
    problems = {c["id"]: run(c) for c in todo}
    assert not any(problems.values()), problems


def test_end_to_end_needs_every_part(monkeypatch):
    todo = cases("end_to_end", True)
    for part in ("topological_order", "unbroadcast", "op_backward"):
        with monkeypatch.context() as m:
            break_all_but(m, part)
            assert all(run(c) for c in todo), part
    assert not any(run(c) for c in todo)


def _recursive_order(root):
    order, seen = [], set()

    def visit(node):
        seen.add(id(node))
        for parent in (node._ctx.parents if node._ctx is not None else ()):
            if parent.requires_grad and id(parent) not in seen:
                visit(parent)
        order.append(node)
    visit(root)
    return order[::-1]


ORIGINAL_ORDER = tensor.topological_order


def _breadth_first(root):
    """A plausible wrong order: breadth first from the root, each tensor when first seen."""
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for parent in (node._ctx.parents if node._ctx is not None else ()):
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
    return order


def _twice(root):
    order = ORIGINAL_ORDER(root)
    return order + order[-1:]


@pytest.mark.parametrize("wrong,fails", [
    (_recursive_order, {"chain-depth10000"}),                 # correct on every shallow graph
    (_breadth_first, {"long-and-short-path", "used-twice", "chain-depth10000"}),   # and the random graph
    (lambda root: ORIGINAL_ORDER(root)[::-1], "all"),       # leaves first: no gradient reaches anything
    (_twice, "all"),                                          # the order check says so
], ids=["recursive", "breadth-first", "leaves-first", "a-leaf-twice"])
def test_wrong_orders_fail_the_cases_they_should(wrong, fails, monkeypatch):
    todo = cases("topological_order", True)
    monkeypatch.setattr(tensor, "topological_order", wrong)
    failed = {c["id"] for c in todo if run(c)}
    if wrong is _breadth_first:   # right where no tensor has two users at different depths
        assert fails <= failed and not {"chain-depth5", "diamond"} & failed, failed
    else:
        assert failed == ({c["id"] for c in todo} if fails == "all" else fails)


def test_the_order_checks_name_each_flaw():
    x = tensor.Tensor(np.ones(2), requires_grad=True)
    a = x.tanh()
    b = a.sigmoid()
    y = a - b
    nodes, program = [x, a, b, y], [["tanh", 0], ["sigmoid", 1], ["sub", 1, 2]]
    names = ("order_holds_every_tensor", "order_has_no_duplicates", "order_starts_at_root",
             "order_puts_each_after_its_users", "order_holds_only_tensors_that_require_grad")

    def check(order):
        checks = harness._order_checks(order, y, [x], nodes, program)
        assert tuple(checks) == names
        return [float(checks[n]) for n in names]

    assert check([y, b, a, x]) == [1, 1, 1, 1, 1]
    assert check([y, a, b, x]) == [1, 1, 1, 0, 1]      # a before b, which uses it
    assert check([y, b, a]) == [0, 1, 1, 0, 1]         # x missing
    assert check([y, b, a, x, x]) == [1, 0, 1, 1, 1]   # x twice
    assert check([b, y, a, x]) == [1, 1, 0, 0, 1]      # the root not first
    assert check([y, b, a, x, tensor.Tensor(np.ones(2))]) == [1, 1, 1, 1, 0]   # a constant in the order
    with pytest.raises(TypeError, match="list of tensors"):
        check(iter([y, b, a, x]))


def test_a_backward_that_changes_grad_in_place_or_sums_back_fails(monkeypatch):
    (case,) = [c for c in cases("op_backward", True) if c["id"].startswith("mul-broadcast-row")
               and not c["id"].endswith("float32")]

    def in_place(self, grad):
        grad *= self.b
        return grad, grad / self.b * self.a

    monkeypatch.setattr(arith.Mul, "backward", in_place)
    problem = run(case)
    assert "`grad_unchanged`" in problem and "changed `grad` in place" in problem

    def summed_back(self, grad):
        return grad * self.b, tensor.unbroadcast(grad * self.a, self.b.shape)

    monkeypatch.setattr(arith.Mul, "backward", summed_back)
    problem = run(case)
    assert "`grad_b`: shape" in problem and "not summed back" in problem


def test_the_deep_chain_is_in_every_draw():
    for public in (True, False):
        ids = [c["id"] for c in make_cases(SPEC, "topological_order", case_rng(3, "x", 0), public)]
        deep = [i for i in ids if i.startswith("chain-depth")]
        assert any(int(i[len("chain-depth"):]) >= 10_000 for i in deep), ids
