"""The automatic mutants of the kits' graded functions (minidense/assignments/mutants.py)."""
import ast

import pytest

from minidense.assignments import ASSIGNMENTS, merge, mutants
from minidense.assignments.generator import PACKAGE_DIR


def _code(node):
    """The function's code without its docstring (re-indenting a method's docstring changes only its text)."""
    node = ast.parse(ast.unparse(node)).body[0]
    if merge.has_docstring(node):
        node.body = node.body[1:]
    return ast.unparse(node)


def _library(rel):
    with open(f"{PACKAGE_DIR}/{rel}", encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_graded_function_has_distinct_mutants_that_plant_and_parse(name):
    spec = ASSIGNMENTS[name]
    found = mutants.kit_mutants(spec)
    keys = [m.key for m in found]
    assert len(keys) == len(set(keys)), "two mutants share a key"
    for rel, names in spec.stubs.items():
        source = _library(rel)
        originals = merge.functions(ast.parse(source))
        for q in names:
            mine = [m for m in found if m.qualname == q and m.rel == rel]
            assert mine, f"{name}: {rel}:{q} has no mutant"
            original = ast.unparse(originals[q])
            for i, m in enumerate(mine):
                assert m.source != original
                if i % 7:
                    continue   # planting is the same code for every mutant: a seventh of them is checked
                planted = merge.replace_function(source, q, m.source)
                got = merge.functions(ast.parse(planted))
                assert _code(got[q]) == _code(ast.parse(m.source).body[0])
                if i == 0:   # everything but the function stays as it was
                    others = {k: ast.unparse(v) for k, v in got.items() if k != q}
                    assert others == {k: ast.unparse(v) for k, v in originals.items() if k != q}


def test_each_kind_of_change_is_generated():
    source = '''def f(a, b, out):
    """doc"""
    if a < b and not out:
        out += g(a, b) * 2 - a @ b
    return -a
'''
    found = mutants.function_mutants("x.py", "f", source)
    by_kind = {}
    for m in found:
        by_kind.setdefault(m.kind, []).append(m.source)
    assert set(by_kind) == {"binop", "augassign", "compare", "constant", "drop", "swap", "unary", "boolop"}
    assert any("out = g(a, b)" in s for s in by_kind["augassign"])
    assert any("out -= g(a, b)" in s for s in by_kind["augassign"])
    assert any("g(b, a)" in s for s in by_kind["swap"])
    assert any("a <= b" in s for s in by_kind["compare"])
    assert any("a < b or not out" in s for s in by_kind["boolop"])
    assert any("* 3" in s for s in by_kind["constant"]) and any("* 1" in s for s in by_kind["constant"])
    assert any("return a\n" in s + "\n" for s in by_kind["unary"])
    assert all("'doc'" in s or '"""doc"""' in s for s in by_kind["drop"]), "the docstring is never dropped"


def test_sampling_is_fixed_and_bounded_per_function():
    found = mutants.kit_mutants(ASSIGNMENTS["conv"])
    a, b = mutants.sample(found, 3), mutants.sample(found, 3)
    assert [m.key for m in a] == [m.key for m in b]
    per = {}
    for m in a:
        per[m.qualname] = per.get(m.qualname, 0) + 1
    assert per and max(per.values()) == 3 and len(per) == sum(len(v) for v in ASSIGNMENTS["conv"].stubs.values())


def test_the_grader_kills_col2ims_assignment_and_a_dropped_return(tmp_path):
    """Two mutants graded as students by the real grader: `=` for `+=` in col2im and im2col returning None
    both lose points; the reference keeps all of them."""
    found = mutants.kit_mutants(ASSIGNMENTS["conv"])
    wanted = [m for m in found if m.qualname == "col2im" and m.kind == "augassign" and "] = cols" in m.key]
    wanted += [m for m in found if m.qualname == "im2col" and m.kind == "drop" and "return" in m.key]
    assert len(wanted) == 2, [m.key for m in wanted]
    summary = mutants.kill_report("conv", tmp_path / "out", only={m.key for m in wanted}, jobs=2, log=lambda s: None)
    assert summary["graded"] == 2 and summary["killed"] == 2, summary
    assert (tmp_path / "out" / "mutants.md").read_text().count("| `ops/im2col.py:col2im` |") == 1


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_declared_equivalent_mutants_still_exist_and_say_why(name):
    """A mutant declared equivalent names one the generator still makes (a change of the reference function
    makes its declarations stale: they must be examined again), with a reason."""
    spec = ASSIGNMENTS[name]
    keys = {m.key for m in mutants.kit_mutants(spec)}
    stale = sorted(set(spec.equivalent_mutants) - keys)
    assert not stale, f"{name}: equivalent_mutants names mutants that no longer exist: {stale}"
    assert all(isinstance(why, str) and len(why) > 10 for why in spec.equivalent_mutants.values())


#: the slow test grades a fixed draw of this many mutants per graded function (the full run, every mutant, is
#: `python -m minidense.assignments.mutants NAME --out DIR`; its counts are in docs/assignments.md)
SLOW_LIMIT = 4
KILL_RATE = 0.90


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_the_hidden_cases_kill_nine_in_ten_mutants(name, tmp_path):
    """Graded as students, at least KILL_RATE of a kit's non-equivalent mutants (a fixed draw of SLOW_LIMIT per
    graded function) lose points on the hidden cases, and the reference keeps all of them."""
    # a generous time limit: on a busy machine a training kit's reference could pass 120 s (a timeout would
    # stop the run, and a mutant's would count as killed)
    summary = mutants.kill_report(name, tmp_path / "out", limit=SLOW_LIMIT, jobs=2, timeout=600, log=lambda s: None)
    assert summary["graded"] > 0 and summary["kill_rate"] >= KILL_RATE, mutants.report_markdown(summary)
