"""The command line on a user's own folders: train, eval and predict agree with the masks; checkpoints
rebuild what they trained from their config alone, old ones included; export is wired."""
import json
import os
import sys

import numpy as np
import pytest
from folder_data import PALETTE, write_folder, write_voc
from paths import GOLDEN
from PIL import Image

from minidense import checkpoint, cli, metrics

GOLDEN_OLD = str(GOLDEN / "checkpoint_before_model_args.npz")


def _main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_train_eval_predict_on_folders_of_png_and_palette_masks(tmp_path, capsys):
    write_folder(tmp_path / "train", 64, seed=0)
    write_folder(tmp_path / "val", 8, seed=1)
    truth = write_folder(tmp_path / "test", 12, seed=2)
    run = tmp_path / "run"
    _main(capsys, "train", "--task", "segmentation", "--data", tmp_path / "train", "--val-data", tmp_path / "val",
          "--epochs", 8, "--batch-size", 4, "--lr", "1e-2", "--base-channels", 8, "--depth", 2, "--out", run,
          "--no-progress")
    printed = json.loads(_main(capsys, "eval", "--checkpoint", run / "best.npz", "--data", tmp_path / "test")
                         .strip().splitlines()[-1])
    _main(capsys, "predict", "--checkpoint", run / "best.npz", "--input", tmp_path / "test" / "images",
          "--out", tmp_path / "pred")
    preds = []
    for i in range(len(truth)):
        with Image.open(tmp_path / "pred" / f"{i:03d}.png") as im:
            assert im.mode == "P"                              # index masks, coloured by the classes' palette
            preds.append(np.asarray(im).astype(np.int64))
            colours = np.asarray(im.getpalette()[:9]).reshape(3, 3)
        coloured = np.asarray(Image.open(tmp_path / "pred" / f"{i:03d}_colour.png"))
        np.testing.assert_array_equal(coloured, colours[preds[-1]])
    np.testing.assert_array_equal(colours, PALETTE)            # the masks' own palette, recorded in the checkpoint
    scores = metrics.segmentation_scores(np.stack(preds), truth.astype(np.int64), num_classes=3)
    print(f"\nfolder run: eval {printed}")
    for key in ("pixel_accuracy", "miou", "fwiou", "mean_accuracy"):
        assert printed[key] == pytest.approx(scores[key], abs=1e-4), key
    assert scores["miou"] >= 0.7, scores                       # it learned the boxes, not only the background


def test_voc_layout_through_the_command_line(tmp_path, capsys):
    write_voc(str(tmp_path / "voc"), n_train=8, n_val=4, size=16)
    (tmp_path / "voc" / "classes.json").write_text(json.dumps(
        {"classes": [{"name": n, "colour": c} for n, c in zip(["bg", "red", "blue"], [[9, 9, 9], [255, 0, 0],
                                                                                     [0, 0, 255]])]}))
    run = tmp_path / "run"
    _main(capsys, "train", "--data", tmp_path / "voc", "--split", "train", "--val-split", "val", "--epochs", 1,
          "--base-channels", 2, "--depth", 2, "--size", "8x12", "--out", run, "--no-progress")
    model, task, config = checkpoint.load_model(str(run / "last.npz"))
    assert [c["name"] for c in config["classes"]] == ["bg", "red", "blue"] and task.num_classes == 3
    assert config["image_size"] == [8, 12] and config["model_args"]["depth"] == 2
    assert "miou" in _main(capsys, "eval", "--checkpoint", run / "last.npz", "--data", tmp_path / "voc",
                           "--split", "val")
    # trained on 8x12 resized images: predictions come back at each image's own size (16x16)
    source = tmp_path / "voc" / "JPEGImages" / "2007_000000.jpg"
    _main(capsys, "predict", "--checkpoint", run / "last.npz", "--input", source, "--out", tmp_path / "one.png")
    assert np.asarray(Image.open(tmp_path / "one.png")).shape == (16, 16)
    assert np.asarray(Image.open(tmp_path / "one.png").getpalette()[:9]).reshape(3, 3).tolist() == \
        [[9, 9, 9], [255, 0, 0], [0, 0, 255]]


def test_bad_folder_is_one_line_with_status_2(tmp_path, capsys):
    write_folder(tmp_path / "d", 2)
    os.remove(tmp_path / "d" / "masks" / "000.png")
    code = cli.main(["train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "no masks file 000.png" in err and len(err.strip().splitlines()) == 1
    write_folder(tmp_path / "sizes", 1, size=16)                 # 000: 16x16
    write_folder(tmp_path / "other", 1, size=24)                 # moved in as 001: 24x24
    for sub in ("images", "masks"):
        os.rename(tmp_path / "other" / sub / "000.png", tmp_path / "sizes" / sub / "001.png")
    code = cli.main(["train", "--data", str(tmp_path / "sizes"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "differ in size" in err and "--size" in err
    write_folder(tmp_path / "odd", 2, size=(18, 20))
    code = cli.main(["train", "--data", str(tmp_path / "odd"), "--depth", "3", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "images of --data (18x20; give --size" in err and "multiple of 4" in err


def test_checkpoints_record_every_constructor_argument_and_rebuild():
    from minidense.models import FCN, AutoEncoder, EncoderDecoder, UNet
    from minidense.tasks import get_task
    for model, task in [(UNet(3, 4, base_channels=2, depth=2, up="bilinear", batch_norm=True, skips=False),
                         get_task("segmentation", num_classes=4)),
                        (EncoderDecoder(3, 1, base_channels=2, depth=1, skips=False), get_task("depth", loss="silog")),
                        (FCN(3, 3, base_channels=2), get_task("normals")),
                        (AutoEncoder(3, size=8, latent_dim=5, base_channels=2, sigmoid=False), get_task("autoencode"))]:
        config = {"task": task.name, **checkpoint.describe_model(model), **checkpoint.describe_task(task)}
        config = json.loads(json.dumps(config))                 # what a checkpoint stores
        again, task_again = checkpoint.rebuild(config)
        assert type(again) is type(model) and again.extra_repr() == model.extra_repr()
        assert [(k, v.shape) for k, v in again.state_dict().items()] == \
            [(k, v.shape) for k, v in model.state_dict().items()]
        assert task_again.describe() == task.describe() and getattr(task_again, "kind", None) == \
            getattr(task, "kind", None)
        assert config["input"] == {"channels": 3, "mean": [0.0] * 3, "std": [1.0] * 3}


def test_a_checkpoint_written_before_model_args_still_loads(capsys):
    """tests/support/golden/checkpoint_before_model_args.npz was written by the code before this change:
    `minidense train --epochs 1 --size 16 --n-train 16 --n-val 8 --base-channels 2 --depth 2`."""
    from minidense.tasks import get_task
    from minidense.train import evaluate
    state = checkpoint.load(GOLDEN_OLD)
    assert "model_args" not in state["config"] and "classes" not in state["config"]
    model, task, config = checkpoint.load_model(GOLDEN_OLD)
    assert model.extra_repr() == ("in_channels=3, out_channels=5, base_channels=2, depth=2, up='transpose', "
                                  "batch_norm=False, skips=True")
    assert [c["name"] for c in config["classes"]] == ["background", "sphere", "box", "cylinder", "pyramid"]
    val = get_task("segmentation").dataset(8, size=16, seed=cli.VAL_SEED_OFFSET)   # the run's validation scenes
    scores = evaluate(model, task, val)
    assert scores["miou"] == state["history"][-1]["miou"]
    assert scores["loss"] == pytest.approx(state["history"][-1]["val_loss"], rel=1e-6)
    assert "miou" in _main(capsys, "eval", "--checkpoint", GOLDEN_OLD, "--n", 2)


def test_export_rebuilds_from_the_checkpoint(tmp_path, capsys):
    _main(capsys, "export", "--checkpoint", GOLDEN_OLD, "--out", tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_export_without_onnx_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)   # as if the export extra were not installed
    code = cli.main(["export", "--checkpoint", GOLDEN_OLD, "--out", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and "export" in err and len(err.strip().splitlines()) == 1


def test_depth_folder_through_the_command_line(tmp_path, capsys):
    from minidense.data.folders import read_depth
    write_folder(tmp_path / "d", 8, size=16)
    os.makedirs(tmp_path / "d" / "depth")
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(1000, 5000, (16, 16)).astype(np.uint16)).save(tmp_path / "d" / "depth" /
                                                                                    f"{i:03d}.png")
    run = tmp_path / "run"
    _main(capsys, "train", "--task", "depth", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--epochs", 1,
          "--base-channels", 2, "--depth", 2, "--depth-scale", "1e-3", "--out", run, "--no-progress")
    assert "abs_rel" in _main(capsys, "eval", "--checkpoint", run / "last.npz", "--data", tmp_path / "d")
    _main(capsys, "predict", "--checkpoint", run / "last.npz", "--input", tmp_path / "d" / "images" / "003.png",
          "--out", tmp_path / "depth.png")
    depth = read_depth(str(tmp_path / "depth.png"), 1e-3)       # written in the units the folder was read in
    assert depth.shape == (1, 16, 16) and 0.5 < np.median(depth) < 10
    assert (tmp_path / "depth_colour.png").stat().st_size > 0


def test_eval_on_a_folder_of_mixed_sizes_pads_each_image(tmp_path, capsys):
    from minidense.data import SegmentationFolder
    from minidense.tasks import get_task
    from minidense.train import evaluate, forward
    write_folder(tmp_path / "mixed", 1, size=(15, 18))
    write_folder(tmp_path / "other", 1, size=(16, 16), seed=3)
    for sub in ("images", "masks"):
        os.rename(tmp_path / "other" / sub / "000.png", tmp_path / "mixed" / sub / "001.png")
    printed = json.loads(_main(capsys, "eval", "--checkpoint", GOLDEN_OLD, "--data", tmp_path / "mixed"))
    model, task, _ = checkpoint.load_model(GOLDEN_OLD)
    data = SegmentationFolder(str(tmp_path / "mixed"), num_classes=5)
    meter = get_task("segmentation").meter()
    for i in range(2):                                  # one image at a time, each at its own size
        meter.update(task.predict(forward(model, data[i][0][None])), data[i][1][None])
    assert printed["miou"] == pytest.approx(meter.compute()["miou"], abs=1e-4)
    assert evaluate(model, task, data, batch_size=1)["miou"] == pytest.approx(printed["miou"], abs=1e-4)
