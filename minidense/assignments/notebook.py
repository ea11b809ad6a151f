"""A kit's starter notebook and its ANSWERS.md: step-through cells with the reference's outputs beside them.

``starter_notebook(spec, kit_dir)`` runs the spec's cells (``Cell``) in order with the library's own
code, in a fresh Python process (so the generator's random state and figures are left alone), and
writes a notebook in which each code cell is followed by what it printed and drew then: the student
runs the same cell on their code and compares. Figures go to ``expected/`` in the kit. The notebook
ends with the written questions, answered in ``ANSWERS.md`` (``answers_template``).
"""
import base64
import json
import os
import subprocess
import sys

from .._extras import require

#: the start of every starter notebook's set-up cell (the kit's own set-up follows): the kit's folder, where
#: Jupyter started, or in Colab the folder uploaded or mounted, found by its grader/parts.json
FIND_KIT = """\
import glob, json, os
if not os.path.isdir('minidense'):   # not started in the kit's folder (Colab starts in /content): find it
    kits = [os.path.dirname(os.path.dirname(p)) for depth in range(6)
            for p in sorted(glob.glob('/content' + '/*' * depth + '/grader/parts.json'))
            if json.load(open(p)).get('assignment') == {name!r}]
    if not kits:
        raise FileNotFoundError("this kit's folder was not found: start Jupyter in it, or in Colab upload or "
                                "mount it as the first cell says")
    os.chdir(kits[0])
"""

#: what the first cell says about Colab
COLAB = ("**In Colab:** put the kit's folder in your Google Drive and mount it (Files pane, *Mount Drive*), or "
         "upload the kit's `.zip` in the Files pane and unzip it in a cell (`!unzip -q kit.zip`, with your file's "
         "name); then open this notebook there and run the cells in order. The first code cell finds the kit's "
         "folder under `/content` (the Drive is `/content/drive/MyDrive`) and works from it: no path to edit. "
         "Colab has NumPy and matplotlib already.")


#: runs in the child process: each cell's stdout and figures, as JSON on stdout
_RUNNER = r'''
import base64, contextlib, io, json, sys, traceback
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
cells = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
results = []
for code in cells:
    out = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<starter cell>", "exec"), namespace)
    except Exception:
        error = traceback.format_exc(limit=3)
    pictures = []
    for number in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(number).savefig(buf, format="png", dpi=80, bbox_inches="tight")
        pictures.append(base64.b64encode(buf.getvalue()).decode())
    plt.close("all")
    results.append({"text": out.getvalue(), "pictures": pictures, "error": error})
sys.__stdout__.write("\n@@CELLS@@" + json.dumps(results))
'''


def run_cells(codes, timeout=300):
    """[{"text", "pictures" (base64 PNGs), "error"}] of running ``codes`` in order with the library."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(codes), capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=root)
    if "@@CELLS@@" not in proc.stdout:
        raise RuntimeError(f"starter notebook: running the cells with the library failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.rsplit("@@CELLS@@", 1)[1])


def _fence(text):
    return "```\n" + text.rstrip() + "\n```"


def starter_notebook(spec, kit_dir):
    """The notebook of ``spec`` (an nbformat notebook); writes its expected pictures into kit_dir/expected."""
    nbformat = require("nbformat", "course", "a kit's starter notebook")
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell(
        f"# {spec.title}\n\nThe full task is in `HANDOUT.md`. This notebook runs from the kit's folder and imports "
        "the kit's own `minidense` (your code). Below each code cell, **Expected** shows what the cell printed "
        "(and drew) with the course's reference code: run the cell on your code and compare. Until you write a "
        "function, its cell stops with `NotImplementedError`.\n\n" + COLAB)]
    setup = FIND_KIT.format(name=spec.name) + spec.starter.setup
    cells.append(v4.new_code_cell(setup))
    run = [c for c in spec.starter.cells if c.expected]
    outputs = iter(run_cells([setup] + [c.code for c in run])[1:]) if run else iter(())
    figure = 0
    for cell in spec.starter.cells:
        cells.append(v4.new_markdown_cell(cell.title))
        cells.append(v4.new_code_cell(cell.code))
        if cell.recorded:
            cells.append(v4.new_markdown_cell("**Expected** (the course's reference code, run when the course was "
                                              "made):\n\n" + _fence(cell.recorded)))
        if not cell.expected:
            continue
        result = next(outputs)
        if result["error"]:
            raise RuntimeError(f"starter notebook of {spec.name}: a cell fails with the library's code:\n"
                               f"{cell.code}\n{result['error']}")
        shown = ["**Expected** (the course's reference code):", ""]
        if result["text"].strip():
            shown.append(_fence(result["text"]))
        for picture in result["pictures"]:
            figure += 1
            os.makedirs(os.path.join(kit_dir, "expected"), exist_ok=True)
            name = f"expected/figure{figure}.png"
            with open(os.path.join(kit_dir, name), "wb") as f:
                f.write(base64.b64decode(picture))
            shown += ["", f"![expected figure {figure}]({name})"]
        cells.append(v4.new_markdown_cell("\n".join(shown)))
    if spec.questions:
        cells.append(v4.new_markdown_cell(
            "## Written questions\n\nAnswer in `ANSWERS.md` (collected with your files, not autograded):\n\n"
            + "\n".join(f"{i}. {q}" for i, q in enumerate(spec.questions, 1))))
    cells.append(v4.new_markdown_cell("## Grade yourself\n\nThe same autograder the course uses, on the public "
                                      "cases: a score per part, written to `results.json`."))
    cells.append(v4.new_code_cell("import subprocess\n"
                                  "print(subprocess.run([sys.executable, 'grader/run.py'], capture_output=True, "
                                  "text=True).stdout[-3000:])"))
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    nbformat.validate(nb)
    return nb


def answers_template(spec):
    """ANSWERS.md as the kit ships it: the questions, with room under each."""
    lines = [f"# Answers: {spec.title}", "", "Write a few sentences under each question. This file is collected "
             "with your code and read by the course staff; it is not autograded.", ""]
    for i, q in enumerate(spec.questions, 1):
        lines += [f"## {i}. {q}", "", "(your answer)", ""]
    return "\n".join(lines)
