"""MkDocs hooks of the documentation site (mkdocs.yml; `make docs`).

- The API reference: one page per public module, ``api/<module>.md``, each one ``::: module`` for mkdocstrings
  (generated here, so that the list of modules lives in one place), and ``api/index.md`` listing them.
- The lecture notebooks: the executed copies that ``make notebooks`` writes to build/notebooks, shown by
  mkdocs-jupyter as they are (not executed again); the build stops when one is missing.
- The guide pages link the notebooks as ``../notebooks/NN_x.py`` (right on a code host): on the site those links
  go to the notebook pages.
- MathJax, for the notebooks' maths (the guide pages have none), from jupyter-server-mathjax's copy (a PyPI
  package) into site/assets/mathjax, with its own STIX-Web fonts: the site loads nothing from outside
  hosts.
"""
import os
import pathlib
import re
import shutil

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: where `make notebooks` writes the executed copies (MINIDENSE_SITE_NOTEBOOKS: another folder called notebooks)
EXECUTED_NOTEBOOKS = pathlib.Path(os.environ.get("MINIDENSE_SITE_NOTEBOOKS", ROOT / "build" / "notebooks"))
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

#: the API reference's pages: module, and what it holds
MODULES = [
    ("minidense", "Top level: tensors, creation, gradcheck, seeding"),
    ("minidense.functional", "F.*: the differentiable functions (PyTorch names)"),
    ("minidense.tensor", "The engine: Tensor, Function, no_grad"),
    ("minidense.nn", "Layers and Module"),
    ("minidense.models", "The lecture's networks"),
    ("minidense.optim", "Optimizers and schedules"),
    ("minidense.tasks", "One Task per slide"),
    ("minidense.train", "Training and evaluation"),
    ("minidense.callbacks", "A run's state and its per-epoch bookkeeping"),
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
    ("minidense.testing", "Hypothesis strategies"),
    ("minidense.backend", "NumPy / CuPy backend"),
    ("minidense.checkpoint", "Checkpoints, and rebuilding a run from one"),
]


def api_page(module):
    return f"api/{module}.md"


def notebook_page(stem):
    return f"notebooks/{stem}.ipynb"


def _api_files(config):
    index = ["# API reference", "", "Generated from the docstrings (which carry the shapes) by mkdocstrings.", ""]
    index += [f"- [`{name}`]({name}.md): {title}" for name, title in MODULES]
    files = [File.generated(config, "api/index.md", content="\n".join(index) + "\n")]
    for name, title in MODULES:
        files.append(File.generated(config, api_page(name), content=f"# `{name}`\n\n{title}.\n\n::: {name}\n"))
    return files


def _notebook_files(config):
    missing = [p.stem for p in NOTEBOOK_SOURCES if not (EXECUTED_NOTEBOOKS / f"{p.stem}.ipynb").is_file()]
    if missing:
        raise PluginError(f"executed notebooks missing from {EXECUTED_NOTEBOOKS}: {missing}; run `make notebooks`")
    if EXECUTED_NOTEBOOKS.name != "notebooks":
        raise PluginError(f"the executed notebooks' folder must be called notebooks, not {EXECUTED_NOTEBOOKS}")
    # mkdocs-jupyter wraps these files and reads them from src_dir / src_uri: src_dir is the folder above
    return [File(notebook_page(p.stem), src_dir=str(EXECUTED_NOTEBOOKS.parent), dest_dir=config["site_dir"],
                 use_directory_urls=config["use_directory_urls"]) for p in NOTEBOOK_SOURCES]


@event_priority(100)   # before mkdocs-jupyter's on_files, which turns the .ipynb files into notebook pages
def on_files(files, config):
    for file in _api_files(config) + _notebook_files(config):
        files.append(file)
    return files


def on_page_markdown(markdown, page, config, files):
    """Links to ../notebooks/NN_x.py (the repository's layout) go to the notebook pages."""
    depth = page.file.src_uri.count("/")
    prefix = "../" * depth
    return re.sub(r"\]\(\.\./notebooks/([0-9][0-9]_\w+)\.py\)", lambda m: f"]({prefix}{notebook_page(m[1])})",
                  markdown)


def on_post_build(config):
    import jupyter_server_mathjax
    source = pathlib.Path(jupyter_server_mathjax.__file__).parent / "static"
    target = pathlib.Path(config["site_dir"]) / "assets" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


#: MathJax 2 set up before it starts: the STIX-Web fonts (jupyter-server-mathjax's copy has no others), and its
#: placeholder font face without the url('about:blank') that Chromium refuses with a console error
MATHJAX_CONFIG = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: '
                  '["STIX-Web"], preferredFont: "STIX-Web", webFont: "STIX-Web", imageFont: null, styles: '
                  '{"@font-face": {"font-family": "MathJax_Blank", src: "local(\'MathJax_Blank\')"}}}});</script>\n')


def on_post_page(output, page, config):
    """The notebook pages load MathJax (mkdocs-jupyter's template): its set-up goes before it."""
    at = output.find('<script src="../../assets/mathjax/MathJax.js')
    return output if at < 0 else output[:at] + MATHJAX_CONFIG + output[at:]
