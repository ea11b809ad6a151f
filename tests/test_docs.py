"""The docs point at things that exist: the slide map's functions, notebooks and tests; the API reference's F.*."""
import ast
import importlib
import inspect
import pathlib
import re

import pytest

import minidense.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLIDE_MAP = ROOT / "docs" / "slide_map.md"
API = ROOT / "docs" / "api.md"

# the lecture's slide topics, each of which must have a row
TOPICS = ["semantic segmentation", "per-pixel loss", "depth", "surface normals", "pose", "edges to image",
          "why it is hard", "stacking convolutions", "cropping windows", "encoder-decoder", "downsampling",
          "where the parameters come from", "unpooling", "transposed convolution", "block sizes", "autoencoders",
          "missing details and u-net", "argmax", "accuracy and iou", "transposed convolution as a matrix"]


def slide_rows():
    """(topic, functions, notebooks, tests) for each row of the tables in docs/slide_map.md."""
    rows = []
    for line in SLIDE_MAP.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4 or set(cells[1]) <= set("-") or cells[0] in ("Slide topic",
                                                                                                       "Topic"):
            continue
        rows.append((cells[0], *(re.findall(r"`([^`]+)`", c) for c in cells[1:])))
    return rows


ROWS = slide_rows()


def resolve(dotted):
    """The object a dotted path names, as ``from a.b import c`` would see it: attributes first, then submodules
    (``minidense.models.convolutionalize`` is the function the package exports, not the module of that name)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], start=1):
        if hasattr(obj, name):
            obj = getattr(obj, name)
        elif inspect.ismodule(obj):
            obj = importlib.import_module(".".join(parts[:i + 1]))
        else:
            raise AttributeError(f"{'.'.join(parts[:i])} has no attribute {name!r}")
    return obj


def test_every_slide_topic_has_a_complete_row():
    assert len(ROWS) >= len(TOPICS)
    topics = " / ".join(r[0].lower() for r in ROWS)
    missing = [t for t in TOPICS if t not in topics]
    assert not missing, f"slide topics without a row in docs/slide_map.md: {missing}"
    for topic, functions, notebooks, tests in ROWS:
        assert functions and notebooks and tests, f"row {topic!r} must name a function, a notebook and a test"


@pytest.mark.parametrize("topic,functions", [(r[0], r[1]) for r in ROWS], ids=[r[0] for r in ROWS])
def test_slide_map_functions_exist(topic, functions):
    for dotted in functions:
        assert dotted.startswith("minidense"), f"{topic}: {dotted!r} is not a minidense dotted path"
        try:
            obj = resolve(dotted)
        except (ImportError, AttributeError) as err:
            pytest.fail(f"{topic}: {dotted} does not exist ({err})")
        assert callable(obj), f"{topic}: {dotted} is not callable"


def test_slide_map_notebooks_exist():
    for topic, _, notebooks, _ in ROWS:
        for nb in notebooks:
            assert (ROOT / nb).is_file(), f"{topic}: notebook {nb} does not exist"


def _test_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test_")}


def test_slide_map_tests_exist():
    for topic, _, _, tests in ROWS:
        for ref in tests:
            file, _, name = ref.partition("::")
            path = ROOT / file
            assert file.startswith("tests/") and name, f"{topic}: {ref!r} is not tests/test_x.py::test_name"
            assert path.is_file(), f"{topic}: test file {file} does not exist"
            assert name in _test_names(path), f"{topic}: {file} has no test function {name}"


def test_every_notebook_is_in_the_slide_map():
    named = {nb for row in ROWS for nb in row[2]}
    notebooks = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")}
    assert notebooks <= named, f"notebooks missing from docs/slide_map.md: {sorted(notebooks - named)}"


def test_api_reference_lists_every_public_functional():
    text = API.read_text(encoding="utf-8")
    public = [n for n, obj in vars(F).items() if not n.startswith("_") and inspect.isfunction(obj)]
    assert len(public) > 30
    missing = [n for n in public if f"### `minidense.functional.{n}`" not in text]
    assert not missing, f"docs/api.md lacks {missing}; run .venv/bin/python docs/make_api.py"


def test_api_reference_entries_carry_their_docstrings():
    text = API.read_text(encoding="utf-8")
    for name in ("conv2d", "im2col", "conv_transpose2d", "max_pool2d", "cross_entropy"):
        first = inspect.getdoc(getattr(F, name)).splitlines()[0]
        assert first in text, f"docs/api.md does not carry F.{name}'s docstring; run docs/make_api.py"


def test_every_picture_in_docs_images_is_shown_by_a_document():
    """A picture drawn for the docs (docs/images/make_images.py, make demo, the notebooks) is embedded somewhere."""
    documents = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "notebooks").glob("[0-9][0-9]_*.py")]
    text = "\n".join(d.read_text(encoding="utf-8") for d in documents)
    shown = set(re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text))
    names = {pathlib.PurePosixPath(s).name for s in shown if "docs/images/" in s}
    pictures = sorted(p.name for p in (ROOT / "docs" / "images").glob("*.png"))
    assert pictures, "docs/images holds no pictures"
    missing = [p for p in pictures if p not in names]
    assert not missing, f"pictures in docs/images that no document embeds (![...](docs/images/NAME)): {missing}"
