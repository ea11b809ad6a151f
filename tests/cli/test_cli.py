"""The `minidense` command: each subcommand works, and every mistake is one clear line with status 2."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from minidense import cli


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, expected", [
    ([], "choose a command"),
    (["fly"], "invalid choice"),
    (["train"], "--out"),
    (["train", "--out", "x", "--epochs", "0"], "positive integer"),
    (["train", "--out", "x", "--lr", "-1"], "positive number"),
    (["train", "--out", "x", "--task", "nonsense"], "invalid choice"),
    (["train", "--out", "x", "--size", "30", "--depth", "3"], "multiple of 4"),
    (["eval", "--checkpoint", "/no/such/file.npz"], "does not exist"),
    (["predict", "--checkpoint", "/no/such/file.npz", "--input", "a.png", "--out", "b.png"], "does not exist"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, expected):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err and "Traceback" not in err


def test_help_of_each_command(capsys):
    for command in ("train", "eval", "predict", "export", "info", "assignment"):
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: minidense" in capsys.readouterr().out


def test_info(capsys):
    code, out, _ = _run(capsys, "info")
    assert code == 0 and "numpy" in out and "BLAS" in out and "GPU" in out


def test_train_eval_predict_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, _ = _run(capsys, "train", "--epochs", "1", "--size", "16", "--n-train", "16", "--n-val", "8",
                         "--base-channels", "4", "--depth", "2", "--out", str(out), "--no-progress")
    assert code == 0 and str(out) in text.strip().splitlines()[-1]
    code, text, _ = _run(capsys, "eval", "--checkpoint", str(out / "best.npz"), "--n", "4")
    assert code == 0 and "miou" in text
    from minidense.data.io import write_png
    image = tmp_path / "in.png"
    write_png(str(image), np.random.default_rng(0).random((16, 16, 3)))
    code, text, _ = _run(capsys, "predict", "--checkpoint", str(out / "best.npz"), "--input", str(image),
                         "--out", str(tmp_path / "pred.png"))
    assert code == 0 and (tmp_path / "pred.png").stat().st_size > 0
    # any size is padded to the model's multiple and cropped back; a file that is no image is a one-line error
    write_png(str(image), np.zeros((9, 12, 3)))
    code, _, err = _run(capsys, "predict", "--checkpoint", str(out / "best.npz"), "--input", str(image),
                        "--out", str(tmp_path / "p.png"))
    assert code == 0 and np.asarray(Image.open(tmp_path / "p.png")).shape == (9, 12)
    assert np.asarray(Image.open(tmp_path / "p_colour.png")).shape == (9, 12, 3)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    code, _, err = _run(capsys, "predict", "--checkpoint", str(out / "best.npz"), "--input",
                        str(tmp_path / "junk.png"), "--out", str(tmp_path / "p.png"))
    assert code == 2 and "cannot read" in err
    # truncated and foreign checkpoints
    data = (out / "last.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 3])
    for bad in ("cut.npz", "junk.png"):
        code, _, err = _run(capsys, "eval", "--checkpoint", str(tmp_path / bad))
        assert code == 2 and "checkpoint" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "train", "--epochs", "2", "--out", str(tmp_path / "none"), "--resume")
    assert code == 2 and "--resume" in err


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception):
        cli.main(["--debug", "eval", "--checkpoint", "/no/such/file.npz"])


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "minidense")
    result = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "minidense" in result.stdout
