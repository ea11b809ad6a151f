"""Automatic mutants of a kit's graded functions: how many wrong programs do the hidden cases reject?

Mutation testing (as mutmut and PIT do it) measures a test suite by the wrong programs it rejects. Here
the suite is an assignment's grader and the programs are the course's reference functions with one small
change on the syntax tree:

- ``binop``: an arithmetic operator swapped (``+`` and ``-``, ``*`` and ``/``, ``//`` → ``/``, ``@`` → ``*``,
  ``**`` → ``*``);
- ``augassign``: ``x += y`` written ``x = y`` (the col2im mistake), or ``+=`` as ``-=``;
- ``compare``: ``<`` and ``<=``, ``>`` and ``>=``, ``==`` and ``!=``, ``is`` and ``is not``, ``in`` and ``not in``;
- ``constant``: an integer constant off by one (``k`` → ``k + 1``, and ``k - 1`` where ``k > 0``);
- ``drop``: a statement replaced by ``pass``;
- ``swap``: the first two positional arguments of a call swapped;
- ``unary``: a unary minus or ``not`` dropped;
- ``boolop``: ``and`` and ``or`` swapped.

Each mutant is graded as a student of its own (every other function the course's reference), with the
real grader (grade.py) on the hidden cases; it is *killed* when it loses points anywhere. A mutant that
computes the same function as the reference (an *equivalent* mutant: ``a * b`` → ``b * a`` cannot lose
points) is declared in the spec's ``equivalent_mutants`` {key: reason} and left out of the rate.

    python -m minidense.assignments.mutants conv --out mutants-conv [--limit 40] [--jobs 2]

writes ``OUT/mutants.md`` (per graded function: mutants, equivalent, killed, survivors with their keys)
and ``OUT/mutants.json``.
"""
import argparse
import ast
import copy
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass

from . import get, merge
from .generator import PACKAGE_DIR

BINOP_SWAPS = {ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,), ast.Div: (ast.Mult,),
               ast.FloorDiv: (ast.Div,), ast.MatMult: (ast.Mult,), ast.Pow: (ast.Mult,), ast.Mod: (ast.FloorDiv,)}
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
BOOLOP_SWAPS = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    rel: str          # the library file, relative to the package
    qualname: str     # the graded function it changes
    kind: str         # binop, augassign, compare, constant, drop, swap, unary, boolop
    key: str          # "qualname:line: before -> after", the line counted from the def (#n when repeated)
    source: str       # the whole mutated function, as ast.unparse writes it

    @property
    def what(self):
        return f"{self.kind}: {self.key}"


def _text(node):
    return "pass" if isinstance(node, ast.Pass) else " ".join(ast.unparse(node).split())


def _focus(before, after, context=24):
    """The two texts cut down to where they differ, with ``context`` characters around it (… marks a cut)."""
    if len(before) <= 2 * context + 20 and len(after) <= 2 * context + 20:
        return before, after
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    start = max(0, head - context)

    def cut(text):
        end = min(len(text), len(text) - tail + context)
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    return cut(before), cut(after)


def _is_docstring(node, parent_body, function):
    return (parent_body is function.body and node is parent_body[0] and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))


def _changes(node, parent_body, function):
    """The mutations of one node: [(kind, mutate(node) -> replacement node)]; the node is a fresh copy."""
    found = []
    if isinstance(node, ast.BinOp):
        for new in BINOP_SWAPS.get(type(node.op), ()):
            found.append(("binop", lambda n, new=new: ast.BinOp(n.left, new(), n.right)))
    elif isinstance(node, ast.AugAssign):
        found.append(("augassign", lambda n: ast.Assign([n.target], n.value, lineno=n.lineno)))
        if isinstance(node.op, ast.Add):
            found.append(("augassign", lambda n: ast.AugAssign(n.target, ast.Sub(), n.value)))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAPS:
                found.append(("compare", lambda n, i=i: ast.Compare(
                    n.left, [COMPARE_SWAPS[type(o)]() if j == i else o for j, o in enumerate(n.ops)], n.comparators)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        found.append(("constant", lambda n: ast.Constant(n.value + 1)))
        if node.value > 0:
            found.append(("constant", lambda n: ast.Constant(n.value - 1)))
    elif isinstance(node, ast.Call):
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(positional) == len(node.args) >= 2:
            found.append(("swap", lambda n: ast.Call(n.func, [n.args[1], n.args[0]] + n.args[2:], n.keywords)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        found.append(("unary", lambda n: n.operand))
    elif isinstance(node, ast.BoolOp):
        found.append(("boolop", lambda n: ast.BoolOp(BOOLOP_SWAPS[type(n.op)](), n.values)))
    if (isinstance(node, ast.stmt) and parent_body is not None and not isinstance(node, ast.Pass)
            and not _is_docstring(node, parent_body, function)):
        found.append(("drop", lambda n: ast.Pass()))
    return found


def _sites(function):
    """[(node, the body list holding it or None, index of its statement)] in a fixed order (breadth first:
    replacing one node never moves a node above it), the function itself excluded."""
    sites, queue = [], [(function, None, None)]
    while queue:
        node, body, stmt = queue.pop(0)
        if node is not function:
            if isinstance(node, ast.stmt):
                stmt = len(sites)
            sites.append((node, body, stmt))
        for field, value in ast.iter_fields(node):
            if node is function and field in ("decorator_list", "returns", "args"):
                continue   # the signature and decorators stay: the grader calls the function as the kit declares it
            if isinstance(value, list):
                holder = value if value and isinstance(value[0], ast.stmt) else None
                queue.extend((v, holder, stmt) for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                queue.append((value, None, stmt))
    return sites


def _replace(function, index, make):
    """A copy of ``function`` with the node at ``index`` of its walk replaced by ``make(that node)``."""
    function = copy.deepcopy(function)
    node = _sites(function)[index][0]
    for parent in ast.walk(function):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list) and any(v is node for v in value):
                value[[i for i, v in enumerate(value) if v is node][0]] = make(node)
                return ast.fix_missing_locations(function)
            if value is node:
                setattr(parent, field, make(node))
                return ast.fix_missing_locations(function)
    raise AssertionError("unreachable: the site is in the function")


def function_mutants(rel, qualname, source=None):
    """Every mutant of function ``qualname`` in library file ``rel`` (each distinct, each parses)."""
    if source is None:
        with open(os.path.join(PACKAGE_DIR, rel), encoding="utf-8") as f:
            source = f.read()
    node = merge.functions(ast.parse(source)).get(qualname)
    if node is None:
        raise KeyError(f"function_mutants: {rel} has no function {qualname}")
    original = ast.unparse(node)
    seen, mutants, counts = {original}, [], {}
    sites = _sites(node)
    for index, (site, body, stmt) in enumerate(sites):
        for kind, make in _changes(site, body, node):
            mutated = _replace(node, index, make)
            text = ast.unparse(mutated)
            if text in seen:
                continue
            seen.add(text)
            line = sites[stmt][0].lineno - node.lineno + 1
            # the statement around the change, before and after (cut to where they differ)
            before_text, after_text = _focus(_text(sites[stmt][0]), _text(_sites(mutated)[stmt][0]))
            key = f"{qualname}:{line}: {before_text} -> {after_text}"
            counts[key] = counts.get(key, 0) + 1
            if counts[key] > 1:
                key = f"{key} #{counts[key]}"
            mutants.append(Mutant(rel, qualname, kind, key, text))
    return mutants


def kit_mutants(spec):
    """The mutants of every graded function of ``spec`` (its ``stubs``), in the spec's order."""
    return [m for rel, names in spec.stubs.items() for q in names for m in function_mutants(rel, q)]


def write_class(spec, mutants, folder):
    """One submission folder per mutant (``m0001`` ...) plus ``reference`` (the library's own files)."""
    library = {rel: open(os.path.join(PACKAGE_DIR, rel), encoding="utf-8").read() for rel in spec.stubs}
    students = {"reference": dict(library)}
    for i, m in enumerate(mutants, 1):
        files = dict(library)
        files[m.rel] = merge.replace_function(library[m.rel], m.qualname, m.source, where=m.rel)
        students[f"m{i:04d}"] = files
    for student, files in students.items():
        for rel, text in files.items():
            path = os.path.join(folder, student, "minidense", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    return students


def sample(mutants, limit, seed=0):
    """At most ``limit`` mutants per graded function, drawn with a fixed seed (all of them when None)."""
    if limit is None:
        return list(mutants)
    by_function = {}
    for m in mutants:
        by_function.setdefault((m.rel, m.qualname), []).append(m)
    rng = random.Random(seed)
    picked = set()
    for group in by_function.values():
        picked.update(m.key for m in (group if len(group) <= limit else rng.sample(group, limit)))
    return [m for m in mutants if m.key in picked]


def kill_report(name, out, limit=None, jobs=2, seed=1234, timeout=120.0, only=None, log=print):
    """Grade the mutants of assignment ``name`` as a class; {function: counts and survivors}, written to OUT.

    limit: at most this many mutants per graded function (a fixed draw); only: grade just these keys."""
    from .grade import grade

    spec = get(name, "kill_report")
    equivalent = dict(spec.equivalent_mutants)
    everything = kit_mutants(spec)
    unknown = set(equivalent) - {m.key for m in everything}
    if unknown:
        raise ValueError(f"kill_report: {name}'s equivalent_mutants name mutants that no longer exist: "
                         f"{sorted(unknown)}")
    chosen = [m for m in sample(everything, limit) if m.key not in equivalent and (only is None or m.key in only)]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="minidense-mutants-") as tmp:
        students = write_class(spec, chosen, os.path.join(tmp, "class"))
        results = grade(name, os.path.join(tmp, "class"), os.path.join(tmp, "graded"), seed, jobs=jobs,
                        timeout=timeout, log=lambda *a: None)
    seconds = time.monotonic() - start
    by_student = {r["student"]: r for r in results}
    ref = by_student["reference"]
    if ref["total"] != ref["max"]:
        raise RuntimeError(f"kill_report: the reference scored {ref['total']}/{ref['max']} ({ref['status']})")
    report = {}
    for (i, m) in enumerate(chosen, 1):
        r = by_student[f"m{i:04d}"]
        row = report.setdefault(f"{m.rel}:{m.qualname}", {"generated": 0, "graded": 0, "killed": 0,
                                                          "equivalent": 0, "survivors": []})
        row["graded"] += 1
        lost = sorted(p for p, v in r["parts"].items() if v["score"] < v["points"])
        if r["total"] < r["max"]:
            row["killed"] += 1
        else:
            row["survivors"].append(m.what)
        row.setdefault("lost", {})[m.key] = lost
    for m in everything:
        row = report.setdefault(f"{m.rel}:{m.qualname}", {"generated": 0, "graded": 0, "killed": 0,
                                                          "equivalent": 0, "survivors": []})
        row["generated"] += 1
        row["equivalent"] += m.key in equivalent
    graded = sum(r["graded"] for r in report.values())
    killed = sum(r["killed"] for r in report.values())
    summary = {"assignment": name, "generated": len(everything), "equivalent": len(equivalent),
               "graded": graded, "killed": killed, "kill_rate": round(killed / graded, 4) if graded else None,
               "seconds": round(seconds, 1), "students": len(students), "limit": limit, "functions": report,
               "equivalent_reasons": equivalent}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "mutants.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(out, "mutants.md"), "w", encoding="utf-8") as f:
        f.write(report_markdown(summary))
    log(report_markdown(summary))
    return summary


def report_markdown(summary):
    lines = [f"# Mutants of the {summary['assignment']} kit", "",
             f"{summary['generated']} generated, {summary['equivalent']} declared equivalent, {summary['graded']} "
             f"graded (limit per function: {summary['limit']}), {summary['killed']} killed: kill rate "
             f"{summary['kill_rate']:.1%} in {summary['seconds']:.0f} s.", "",
             "| function | generated | equivalent | graded | killed | rate |", "|---|---|---|---|---|---|"]
    for fn, r in summary["functions"].items():
        rate = f"{r['killed'] / r['graded']:.0%}" if r["graded"] else "-"
        lines.append(f"| `{fn}` | {r['generated']} | {r['equivalent']} | {r['graded']} | {r['killed']} | {rate} |")
    survivors = [(fn, s) for fn, r in summary["functions"].items() for s in r["survivors"]]
    if survivors:
        lines += ["", "## Survivors (not equivalent, kept every point)", ""]
        lines += [f"- `{s}`" for _, s in survivors]
    if summary["equivalent_reasons"]:
        lines += ["", "## Declared equivalent", ""]
        lines += [f"- `{k}`: {why}" for k, why in summary["equivalent_reasons"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minidense.assignments.mutants", description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=None, help="at most this many mutants per graded function")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant, all parts together")
    parser.add_argument("--list", action="store_true", help="list the mutants without grading them")
    args = parser.parse_args(argv)
    spec = get(args.name, "mutants")
    if args.list:
        for m in sample(kit_mutants(spec), args.limit):
            print(m.what)
        return 0
    summary = kill_report(args.name, args.out, args.limit, args.jobs, args.seed, args.timeout)
    return 0 if summary["graded"] else 1


if __name__ == "__main__":
    sys.exit(main())
