"""Planting a mistake on the syntax tree: a function's body, located by qualified name, read or replaced.

    source = plant.replace_body(source, "col2im", plant.body(source, "col2im").replace("] +=", "] ="))

``qualname`` is ``name`` at module level or ``Class.method`` in a module-level class (as ``merge.py``
names them). A body is the function's statements after its docstring, dedented; a replacement is
written dedented too, and indented here to the function's own. Because the function is found by name
and only its body is touched, a mistake planted this way survives the library's reformatting elsewhere
in the file, and a test fails loudly (KeyError) when the function it names is gone.
"""
import ast
import textwrap

from . import merge


def _span(source, qualname):
    """(the body's first line, its last line, its indentation): 1-based lines of the statements after the docstring."""
    found = merge.functions(ast.parse(source))
    if qualname not in found:
        raise KeyError(f"no function {qualname} in the source (functions: {', '.join(sorted(found))})")
    node = found[qualname]
    statements = node.body[1:] if merge.has_docstring(node) else node.body
    if not statements:
        raise ValueError(f"{qualname} has a docstring and nothing else: no body to read or replace")
    return statements[0].lineno, node.end_lineno, statements[0].col_offset


def body(source, qualname):
    """The body of ``qualname`` in ``source`` (after its docstring), dedented to column 0."""
    first, last, _ = _span(source, qualname)
    return textwrap.dedent("".join(source.splitlines(keepends=True)[first - 1:last]))


def replace_body(source, qualname, new_body):
    """``source`` with the body of ``qualname`` (after its docstring, which stays) replaced by ``new_body``
    (dedented text); the result must parse."""
    first, last, indent = _span(source, qualname)
    lines = source.splitlines(keepends=True)
    block = textwrap.indent(textwrap.dedent(new_body).rstrip("\n") + "\n", " " * indent)
    lines[first - 1:last] = [block]
    planted = "".join(lines)
    ast.parse(planted)
    return planted


def edit_body(source, qualname, old, new):
    """``source`` with the one occurrence of ``old`` in the body of ``qualname`` replaced by ``new`` (both in the
    body's dedented text); a ValueError when ``old`` is not there exactly once."""
    text = body(source, qualname)
    if text.count(old) != 1:
        raise ValueError(f"{qualname}: {old!r} occurs {text.count(old)} times in its body, not once")
    return replace_body(source, qualname, text.replace(old, new))
