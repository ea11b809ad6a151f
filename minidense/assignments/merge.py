"""Function-by-function merging on the syntax tree: put a donor file's functions into a base file.

    merge_functions(base_source, donor_source, ["_im2col", "Conv2d.forward"])

replaces the lines of each named function in ``base_source`` (``name`` at module level,
``Class.method`` in a module-level class; decorators included) by the donor's lines of the same
function. Everything else of the base stays as it is, so a student's other edits in the same file
(another assignment's function, a broken helper) cost nothing. Used by ``make --carry`` and by the
grader. A donor function that is still a stub (``raise NotImplementedError``) is not taken.

    replace_function(source, "Conv2d.forward", "def forward(self, x):\n    return x\n")

puts one function's new text in place of the named one (the course's planted mistakes are declared so).
"""
import ast
import textwrap


def functions(tree):
    """{qualified name: FunctionDef} for module-level functions and methods of module-level classes."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    return found


def has_docstring(node):
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def is_stub(node):
    """True when the function's body (after its docstring) is one ``raise NotImplementedError...``."""
    body = node.body[1:] if has_docstring(node) else node.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _span(node):
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return start, node.end_lineno


def merge_functions(base_source, donor_source, qualnames):
    """(merged source, {qualname: why it was not taken}) — a name is not taken when the donor lacks it,
    holds a stub, or cannot be parsed (then nothing is taken)."""
    try:
        donor_tree = ast.parse(donor_source)
    except SyntaxError as exc:
        return base_source, {q: f"the file does not parse (line {exc.lineno}: {exc.msg})" for q in qualnames}
    donor = functions(donor_tree)
    base = functions(ast.parse(base_source))
    donor_lines = donor_source.splitlines(keepends=True)
    lines = base_source.splitlines(keepends=True)
    skipped, edits = {}, []
    for q in qualnames:
        if q not in base:
            raise KeyError(f"merge_functions: the base has no function {q}")
        if q not in donor:
            skipped[q] = "not found in the file"
            continue
        if is_stub(donor[q]):
            skipped[q] = "still a stub"
            continue
        if donor[q].col_offset != base[q].col_offset:
            skipped[q] = "indented differently from the kit's (moved into or out of a class?)"
            continue
        d0, d1 = _span(donor[q])
        edits.append((_span(base[q]), donor_lines[d0 - 1:d1]))
    for (b0, b1), text in sorted(edits, reverse=True):   # bottom up: earlier line numbers stay valid
        if text and not text[-1].endswith("\n"):
            text = text[:-1] + [text[-1] + "\n"]
        lines[b0 - 1:b1] = text
    merged = "".join(lines)
    ast.parse(merged)
    return merged, skipped


def replace_function(source, qualname, function_source, where="<source>"):
    """``source`` with the function ``qualname`` (decorators included) replaced by ``function_source``: one
    ``def`` of the same name, written at any indentation (it is re-indented to the function's place).
    KeyError naming a function the source lacks; ValueError when ``function_source`` is not one such def."""
    base = functions(ast.parse(source))
    if qualname not in base:
        raise KeyError(f"replace_function: {where} has no function {qualname} (has: {', '.join(sorted(base))})")
    new = textwrap.dedent(function_source).strip("\n")
    body = ast.parse(new).body
    name = qualname.rsplit(".", 1)[-1]
    if len(body) != 1 or not isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) or body[0].name != name:
        raise ValueError(f"replace_function: the text for {where}: {qualname} must be one def {name}(...)")
    indent = " " * base[qualname].col_offset
    lines = source.splitlines(keepends=True)
    start, end = _span(base[qualname])
    lines[start - 1:end] = [indent + line + "\n" if line.strip() else "\n" for line in new.split("\n")]
    out = "".join(lines)
    ast.parse(out)
    return out
