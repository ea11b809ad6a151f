"""Write docs/api.md, the API reference, from the docstrings of minidense's public modules.

    .venv/bin/python docs/make_api.py          # rewrites docs/api.md
    .venv/bin/python docs/make_api.py --check  # exits 1 when docs/api.md is out of date

Public names of a module: its ``__all__`` when it has one, else every name not starting with ``_``
that is a function or class defined in that module. Each entry gets its signature and its docstring
(which carries the shapes), verbatim in a text block.
"""
import importlib
import inspect
import pathlib
import sys

MODULES = [
    ("minidense", "Top level: tensors, creation, gradcheck, seeding"),
    ("minidense.functional", "F.*: the differentiable functions (PyTorch names)"),
    ("minidense.tensor", "The engine: Tensor, Function, no_grad"),
    ("minidense.nn", "Layers and Module"),
    ("minidense.models", "The lecture's networks"),
    ("minidense.optim", "Optimizers and schedules"),
    ("minidense.tasks", "One Task per slide"),
    ("minidense.train", "Training and evaluation"),
    ("minidense.callbacks", "Hooks into the training loop (Callback, EarlyStopping) and a run's state"),
    ("minidense.inference", "A trained model on image files"),
    ("minidense.metrics", "Metrics"),
    ("minidense.data.scenes", "Procedural scenes"),
    ("minidense.data.digits", "Digit mosaics"),
    ("minidense.data.folders", "Your own folders of images and masks"),
    ("minidense.data.loader", "Batches"),
    ("minidense.data.transforms", "Augmentation"),
    ("minidense.data.io", "PNG input/output"),
    ("minidense.viz", "Pictures"),
    ("minidense.export", "ONNX export"),
    ("minidense.gradcheck", "Gradient checking"),
    ("minidense.opinfo", "The op database: one declaration per differentiable op (tests/test_opdb.py reads it)"),
    ("minidense.testing", "Hypothesis strategies"),
    ("minidense.backend", "NumPy / CuPy backend"),
    ("minidense._malloc", "Host memory: glibc malloc keeps freed memory (called by the backend at import)"),
    ("minidense.checkpoint", "Checkpoints, and rebuilding a run from one"),
]

OUT = pathlib.Path(__file__).resolve().parent / "api.md"


def public_names(module):
    """Sorted public function and class names of ``module``.

    minidense.functional gathers its families with ``from .ops.x import *``, so every public function
    found in it counts, whether or not its ``__all__`` lists it.
    """
    names = getattr(module, "__all__", None)
    if module.__name__ == "minidense.functional":
        names = sorted(set(names or ()) | {n for n, obj in vars(module).items()
                                           if not n.startswith("_") and inspect.isfunction(obj)})
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                 and getattr(obj, "__module__", None) == module.__name__]
    return sorted(n for n in names
                  if inspect.isfunction(getattr(module, n, None)) or inspect.isclass(getattr(module, n, None)))


def signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def doc_block(obj):
    doc = inspect.getdoc(obj)
    return ["", "```text", doc, "```"] if doc else ["", "*(no docstring)*"]


def render():
    lines = ["# API reference", "",
             "Generated from the docstrings by `docs/make_api.py`; do not edit by hand "
             "(run `.venv/bin/python docs/make_api.py`).", "", "## Modules", ""]
    sections = []
    for name, title in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        anchor = name.replace(".", "")
        lines.append(f"- [`{name}`](#{anchor}): {title}")
        body = [f"## {name}", ""]
        mdoc = inspect.getdoc(module)
        if mdoc:
            body += ["```text", mdoc, "```", ""]
        for attr in public_names(module):
            obj = getattr(module, attr)
            kind = "class" if inspect.isclass(obj) else "def"
            body += [f"### `{name}.{attr}`", "", f"`{kind} {attr}{signature(obj)}`"] + doc_block(obj)
            if inspect.isclass(obj):
                for mname, meth in sorted(vars(obj).items()):
                    if mname.startswith("_") or not inspect.isfunction(meth) or not inspect.getdoc(meth):
                        continue
                    first = inspect.getdoc(meth).splitlines()[0]
                    body += ["", f"- `{mname}{signature(meth)}`: {first}"]
            body.append("")
        sections.append(body)
    lines.append("")
    for body in sections:
        lines += body
    return "\n".join(lines).rstrip() + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date; run python docs/make_api.py")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
