import numpy as np
import pytest

from minidense import viz
from minidense.constants import IGNORE_INDEX
from minidense.data import io, scenes
from minidense.tasks import get_task


def _not_blank(png, min_shape=(100, 100)):
    img = io.read_png(png)
    assert img.shape[0] >= min_shape[0] and img.shape[1] >= min_shape[1]
    assert img.std() > 0.02 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20
    return img


def test_voc_palette_formula():
    p = viz.voc_palette()
    assert p.shape == (256, 3) and p.dtype == np.uint8
    np.testing.assert_array_equal(p[:4], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]])
    np.testing.assert_array_equal(p[[7, 15]], [[128, 128, 128], [192, 128, 128]])   # VOC: person is 15
    np.testing.assert_array_equal(p[IGNORE_INDEX], [224, 224, 192])
    assert len(np.unique(p, axis=0)) == 256                         # every label its own colour


def test_image_arrays():
    d = scenes.generate(1, 32, seed=0)
    labels = d["labels"][0]
    c = viz.colorize_labels(labels)
    assert c.shape == (32, 32, 3) and c.dtype == np.float32
    assert np.allclose(c[labels == IGNORE_INDEX], np.array([224, 224, 192]) / 255) and (labels == IGNORE_INDEX).any()
    o = viz.overlay(d["image"][0], labels)
    np.testing.assert_allclose(o[labels == 0], d["image"][0].transpose(1, 2, 0)[labels == 0])   # background kept
    assert viz.depth_to_rgb(d["depth"][0]).shape == (32, 32, 3)
    n = viz.normals_to_rgb(np.array([0.0, 0.0, 2.0]).reshape(3, 1, 1))
    np.testing.assert_allclose(n[0, 0], [0.5, 0.5, 1.0])
    k = viz.draw_keypoints(np.zeros((3, 9, 9)), np.array([[4.0, 4.0]]))
    np.testing.assert_allclose(k[4, 4], [1.0, 0.1, 0.1]) and np.testing.assert_allclose(k[0, 0], 0)


@pytest.mark.parametrize("task_name", ["segmentation", "depth", "normals", "keypoints", "sketch2image", "autoencode"])
def test_each_task_draws_its_predictions(task_name, tmp_path):
    task = get_task(task_name)
    ds = task.dataset(3, size=32, seed=1)
    images = np.stack([ds[i][0] for i in range(3)])
    truths = np.stack([ds[i][1] for i in range(3)])
    preds = truths[::-1].copy()
    for target in (truths[0], preds[0]):
        picture = task.picture(target)
        assert picture.shape == (32, 32, 3) and picture.dtype == np.float32 and 0 <= picture.min() <= picture.max() <= 1
    error = task.error_picture(truths[0], preds[0])
    assert error.shape == (32, 32, 3) and error.std() > 0                      # the swapped samples differ
    assert task.error_picture(truths[0], truths[0]).max() <= error.max()
    path = tmp_path / f"{task_name}.png"
    task.draw(images, truths, preds, path=path)
    _not_blank(path)


def test_segmentation_error_picture_marks_wrong_and_unknown_pixels():
    truth = np.array([[0, 1], [IGNORE_INDEX, 2]])
    err = get_task("segmentation").error_picture(truth, np.array([[0, 2], [0, 2]]))
    np.testing.assert_allclose(err[0, 1], [1.0, 0.15, 0.15])
    np.testing.assert_allclose(err[1, 0], [0.5, 0.5, 0.5])
    assert not err[0, 0].any() and not err[1, 1].any()


def test_curves_and_confusion_render(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "miou": e / 10} for e in range(5)]
    viz.plot_curves(history, path=tmp_path / "curves.png")
    _not_blank(tmp_path / "curves.png")
    cm = np.array([[50, 2, 1], [3, 20, 4], [0, 5, 15]])
    viz.plot_confusion(cm, ["background", "a", "b"], path=tmp_path / "cm.png")
    _not_blank(tmp_path / "cm.png")


def test_bad_input():
    with pytest.raises(ValueError, match="picture_grid: 2 columns but 1 titles"):
        viz.picture_grid([[np.zeros((4, 4, 3)), np.zeros((4, 4, 3))]], titles=["a"])
    with pytest.raises(ValueError, match="Segmentation.draw: targets and preds must have the same shape"):
        get_task("segmentation").draw(np.zeros((1, 3, 4, 4)), np.zeros((1, 4, 4)), np.zeros((1, 5, 4)))
    with pytest.raises(ValueError, match="heatmaps_to_rgb: heatmaps must be"):
        viz.heatmaps_to_rgb(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="normals_to_rgb: normals must be"):
        viz.normals_to_rgb(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="colorize_labels: labels must be in"):
        viz.colorize_labels(np.array([[256]]))
    with pytest.raises(ValueError, match="plot_confusion: cm must be a square"):
        viz.plot_confusion(np.zeros((2, 3)))


def test_image_strip_renders(tmp_path):
    images = np.random.default_rng(0).random((5, 3, 8, 8))
    viz.image_strip(images, titles=list("abcde"), path=str(tmp_path / "strip.png"))
    picture = io.read_png(str(tmp_path / "strip.png"))
    assert picture.shape[1] > picture.shape[0] and picture.std() > 0
    with pytest.raises(ValueError, match="titles"):
        viz.image_strip(images, titles=["a"])
