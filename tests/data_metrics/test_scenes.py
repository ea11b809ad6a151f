import numpy as np
import pytest

from minidense import metrics
from minidense.constants import IGNORE_INDEX
from minidense.data import scenes


@pytest.fixture(scope="module")
def data():
    return scenes.generate(48, size=48, seed=3)


def test_shapes_dtypes_and_ranges(data):
    n, H, W = 48, 48, 48
    expect = {"image": ((n, 3, H, W), np.float32), "labels": ((n, H, W), np.int64), "depth": ((n, 1, H, W), np.float32),
              "normals": ((n, 3, H, W), np.float32), "edges": ((n, 1, H, W), np.float32),
              "keypoints": ((n, scenes.MAX_KEYPOINTS, 2), np.float32),
              "keypoint_visible": ((n, scenes.MAX_KEYPOINTS), np.bool_),
              "keypoint_type": ((n, scenes.MAX_KEYPOINTS), np.int64)}
    for key, (shape, dtype) in expect.items():
        assert data[key].shape == shape and data[key].dtype == dtype, key
    assert 0 <= data["image"].min() and data["image"].max() <= 1
    assert data["depth"].min() > 0
    assert set(np.unique(data["edges"])) == {0.0, 1.0}
    assert set(np.unique(data["labels"])) == set(range(scenes.NUM_CLASSES)) | {IGNORE_INDEX}
    assert scenes.CLASSES[0] == "background" and scenes.NUM_CLASSES >= 5


def test_non_square_size():
    d = scenes.generate(2, size=(32, 40), seed=0)
    assert d["image"].shape == (2, 3, 32, 40) and d["labels"].shape == (2, 32, 40)


def test_same_seed_same_scene_other_seed_other_scene():
    a, b, c = scenes.generate(3, 32, seed=7), scenes.generate(3, 32, seed=7), scenes.generate(3, 32, seed=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["image"], c["image"])


def test_ignore_band_is_one_pixel_at_object_boundaries_and_nowhere_else(data):
    inst, labels = data["instances"], data["labels"]
    band = np.zeros(inst.shape, dtype=bool)
    band[:, :, :-1] |= inst[:, :, :-1] != inst[:, :, 1:]
    band[:, :-1] |= inst[:, :-1] != inst[:, 1:]
    np.testing.assert_array_equal(labels == IGNORE_INDEX, band)
    assert (labels == IGNORE_INDEX).mean() < 0.1
    # off the band, the class is the class of the object the pixel shows
    assert np.all(labels[inst == 0] != np.arange(1, scenes.NUM_CLASSES)[:, None])
    off = labels != IGNORE_INDEX
    assert np.all((labels[off] == 0) == (inst[off] == 0))


def test_normals_are_unit_and_agree_with_depth_on_planar_regions(data):
    n = data["normals"]
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1, atol=1e-5)
    from_depth = scenes.normals_from_depth(data["depth"])
    # planar pixels: the same object and the same normal over the whole 3x3 neighbourhood
    inst = data["instances"]
    H, W = inst.shape[1:]
    planar = np.ones(inst.shape, dtype=bool)
    planar[:, [0, -1]] = planar[:, :, [0, -1]] = False
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted_n = np.roll(n, (dy, dx), axis=(2, 3))
            shifted_i = np.roll(inst, (dy, dx), axis=(1, 2))
            planar &= (inst == shifted_i) & (np.abs(n - shifted_n).max(axis=1) < 1e-5)
    assert planar.mean() > 0.5 and planar[inst > 0].mean() > 0.05      # ground and object faces
    cos = (from_depth * n).sum(1)[planar]
    assert np.degrees(np.arccos(np.clip(cos.min(), -1, 1))) < 3.0
    assert np.all(n[:, 2] > 0)                                          # visible surfaces face the camera


def test_keypoints_are_on_their_objects(data):
    kp, vis, kind = data["keypoints"], data["keypoint_visible"], data["keypoint_type"]
    assert vis.sum() > 100 and np.all(kind[vis] >= 0)
    assert np.all(~vis[kind < 0])
    n, H, W = data["instances"].shape
    scene, slot = np.nonzero(vis)
    col, row = np.rint(kp[scene, slot, 0]).astype(int), np.rint(kp[scene, slot, 1]).astype(int)
    assert np.all((col >= 0) & (col < W) & (row >= 0) & (row < H))
    owner = 1 + slot // scenes.KEYPOINTS_PER_OBJECT
    # a visible centre shows its object; a visible corner has its object within 1 pixel
    centres = kind[scene, slot] == 0
    assert np.all(data["instances"][scene, row, col][centres] == owner[centres])
    pad = np.pad(data["instances"], ((0, 0), (1, 1), (1, 1)), mode="edge")
    near = np.stack([pad[scene, row + dy, col + dx] for dy in range(3) for dx in range(3)], 1) == owner[:, None]
    assert near.any(1)[~centres].mean() > 0.95


def test_heatmaps_and_peak_decoding_round_trip(data):
    ds = scenes.SceneDataset(4, size=48, seed=3, task="keypoints")
    image, heat = ds[0]
    assert heat.shape == (len(scenes.KEYPOINT_TYPES), 48, 48) and heat.dtype == np.float32
    assert heat.max() == pytest.approx(1.0, abs=0.2) and heat.min() >= 0
    a = ds.arrays
    pts = scenes.keypoint_heatmaps(np.array([[10.0, 20.0], [30.0, 5.0]]), np.array([0, 1]), np.array([True, True]), 48)
    peaks = scenes.heatmap_peaks(pts)
    np.testing.assert_array_equal(peaks[0], [[10, 20]])
    np.testing.assert_array_equal(peaks[1], [[30, 5]])
    assert len(scenes.heatmap_peaks(heat[None])) == 1 and a["keypoints"].shape[0] == 4


@pytest.mark.parametrize("task,in_shape,target_shape", [
    ("segmentation", (3, 32, 32), (32, 32)), ("depth", (3, 32, 32), (1, 32, 32)),
    ("normals", (3, 32, 32), (3, 32, 32)), ("keypoints", (3, 32, 32), (2, 32, 32)),
    ("sketch2image", (1, 32, 32), (3, 32, 32)), ("autoencode", (3, 32, 32), (3, 32, 32))])
def test_dataset_tasks(task, in_shape, target_shape):
    ds = scenes.SceneDataset(3, size=32, seed=1, task=task)
    x, y = ds[2]
    assert len(ds) == 3 and ds.task == task and ds.num_classes == scenes.NUM_CLASSES
    assert x.shape == in_shape and y.shape == target_shape


def test_colour_alone_cannot_solve_the_scenes():
    """The best quantised-colour -> majority-class lookup, fitted on one set, fails on another."""
    train, test = scenes.generate(200, 48, seed=10), scenes.generate(100, 48, seed=11)
    levels = 8

    def codes(img):
        q = np.minimum((img * levels).astype(np.int64), levels - 1)
        return (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]

    c, y = codes(train["image"]).ravel(), train["labels"].ravel()
    keep = y != IGNORE_INDEX
    counts = np.zeros((levels ** 3, scenes.NUM_CLASSES))
    np.add.at(counts, (c[keep], y[keep]), 1)
    lookup = counts.argmax(1)
    pred = lookup[codes(test["image"])]
    iou = metrics.segmentation_scores(pred, test["labels"], scenes.NUM_CLASSES)["iou"]
    shapes_miou = np.nanmean(iou[1:])
    print("colour lookup mIoU over shapes", shapes_miou)
    assert shapes_miou <= 0.4, shapes_miou


def test_bad_arguments():
    with pytest.raises(TypeError, match="generate: size must be an int or a pair"):
        scenes.generate(2, size="64")
    with pytest.raises(ValueError, match="generate: n must be at least 1"):
        scenes.generate(0)
    with pytest.raises(ValueError, match="SceneDataset: task must be one of"):
        scenes.SceneDataset(2, task="colour")
    with pytest.raises(ValueError, match="heatmap_peaks: heatmaps must be"):
        scenes.heatmap_peaks(np.zeros((4, 4)))
