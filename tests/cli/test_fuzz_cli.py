"""Bad command lines of 13 sorts (unknown commands and options, bad numbers, choices and devices, sizes the model
cannot take, missing / truncated / foreign / newer checkpoints, missing and unreadable images, images of the
wrong size): each exits with status 2 and one line, no traceback."""
import contextlib
import io
import os

import numpy as np
import pytest
from fuzzing import ERRORS, EXAMPLES, GPU, TRIED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minidense import backend, cli

# ------------------------------------------------------------------ the command line
INT_OPTIONS = ("--epochs", "--batch-size", "--size", "--n-train", "--n-val", "--base-channels", "--depth")
SMALL = ["--size", "16", "--depth", "2", "--n-train", "2", "--n-val", "1", "--epochs", "1", "--base-channels", "2"]


def _not_positive_int(text):
    try:
        return int(text) < 1
    except ValueError:
        return True


def _not_positive_float(text):
    try:
        value = float(text)
    except ValueError:
        return True
    return not 0 < value < float("inf")


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """A checkpoint of a tiny run (written directly, no training) and bad files of every sort."""
    from minidense import checkpoint
    from minidense.data.io import write_png
    root = tmp_path_factory.mktemp("cli")
    config = {"task": "segmentation", "model": "unet", "size": 16, "n_train": 2, "n_val": 1, "base_channels": 2,
              "depth": 2}
    model = checkpoint.rebuild(config)[0]
    good = root / "good.npz"
    checkpoint.save(str(good), model=model.state_dict(), optimizer={}, epoch=1, rng=backend.get_rng_state(),
                    history=[], best=None, config=config)
    data = good.read_bytes()
    files = {"good": good, "truncated": root / "cut.npz", "foreign": root / "foreign.npz", "newer": root / "new.npz",
             "text": root / "notes.txt", "folder": root, "no config": root / "noconfig.npz",
             "junk png": root / "junk.png", "odd png": root / "odd.png", "empty png": root / "empty.png"}
    files["truncated"].write_bytes(data[: len(data) // 2])
    np.savez(files["foreign"], weights=np.zeros(3))
    meta = {"format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION + 1, "state": {}}
    np.savez(files["newer"], __meta__=np.array(__import__("json").dumps(meta)))
    files["text"].write_text("not a checkpoint\n")
    checkpoint.save(str(files["no config"]), model=model.state_dict())
    files["junk png"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    write_png(str(files["odd png"]), np.zeros((15, 18, 3)))
    files["empty png"].write_bytes(b"")
    return files


@st.composite
def bad_argv(draw, files, out):
    """(kind, argv) of a command line that must end with status 2 and one line."""
    kind = draw(st.sampled_from(["command", "unknown option", "int option", "float option", "choice", "device",
                                 "size multiple", "autoencoder task", "resume", "missing checkpoint",
                                 "bad checkpoint", "missing image", "bad image"]))
    text = st.text(min_size=1, max_size=12)
    if kind == "command":
        return kind, [draw(text.filter(lambda t: not t.startswith("-") and t not in cli_commands()))]
    if kind == "unknown option":
        return kind, ["train", "--out", out, draw(st.from_regex(r"\A--[a-z]{9,12}\Z"))]
    if kind == "int option":
        return kind, ["train", "--out", out, draw(st.sampled_from(INT_OPTIONS)), draw(text.filter(_not_positive_int))]
    if kind == "float option":
        return kind, ["train", "--out", out, "--lr", draw(text.filter(_not_positive_float) | st.sampled_from(
            ["nan", "inf", "-inf", "0", "-1e-3", "1e999"]))]
    if kind == "choice":
        option = draw(st.sampled_from(["--task", "--model", "--on-nan"]))
        return kind, ["train", "--out", out, option, draw(text.filter(lambda t: t not in (
            "segmentation", "depth", "normals", "keypoints", "sketch2image", "autoencode", "unet", "encdec", "fcn",
            "autoencoder", "stop", "skip")))]
    if kind == "device":
        command = draw(st.sampled_from(["train", "eval", "predict"]))
        usable = ("cpu", "cuda") if GPU else ("cpu",)
        device = draw(text.filter(lambda t: t.split(":")[0] not in usable and not t.startswith("-")))
        rest = {"train": ["--out", out] + SMALL, "eval": ["--checkpoint", str(files["good"])],
                "predict": ["--checkpoint", str(files["good"]), "--input", str(files["odd png"]), "--out", out]}
        return kind, [command, "--device", device] + rest[command]
    if kind == "size multiple":
        size = draw(st.integers(1, 99).filter(lambda n: n % 4))
        return kind, ["train", "--out", out, "--size", str(size), "--depth", "3"]
    if kind == "autoencoder task":
        return kind, ["train", "--out", out, "--model", "autoencoder", "--task", "depth"] + SMALL[:4]
    if kind == "resume":
        return kind, ["train", "--out", out + "-never-written", "--resume"] + SMALL
    if kind == "missing checkpoint":
        name = draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1,
                            max_size=10))
        command = draw(st.sampled_from(["eval", "predict"]))
        extra = ["--input", str(files["odd png"]), "--out", out] if command == "predict" else []
        return kind, [command, "--checkpoint", os.path.join(out, "missing", name)] + extra
    if kind == "bad checkpoint":
        bad = draw(st.sampled_from(["truncated", "foreign", "newer", "text", "folder", "no config", "junk png"]))
        command = draw(st.sampled_from(["eval", "predict"]))
        extra = ["--input", str(files["odd png"]), "--out", out] if command == "predict" else []
        return kind, [command, "--checkpoint", str(files[bad])] + extra
    if kind == "missing image":
        return kind, ["predict", "--checkpoint", str(files["good"]), "--input", os.path.join(out, "none.png"),
                      "--out", out + ".png"]
    bad = draw(st.sampled_from(["junk png", "empty png", "text", "folder"]))   # any size is padded: odd png is fine
    return kind, ["predict", "--checkpoint", str(files["good"]), "--input", str(files[bad]), "--out", out + ".png"]


def cli_commands():
    return ("train", "eval", "predict", "info", "assignment")


@settings(max_examples=EXAMPLES * 20, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_bad_command_lines_exit_2_with_one_line(cli_files, tmp_path_factory, data):
    out = str(cli_files["folder"] / "out")
    kind, argv = data.draw(bad_argv(cli_files, out))
    TRIED[f"cli {kind}"] += 1
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    err = err.getvalue()
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert err.startswith("minidense"), (argv, err)
    ERRORS[f"cli {kind}"] += 1
