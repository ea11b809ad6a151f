import numpy as np
import pytest

from minidense.data import DataLoader, io, scenes, transforms
from minidense.data.transforms import RandomCrop, RandomHorizontalFlip, flip_keypoints, hflip


class Pairs:
    """A tiny data set: sample i is (image filled with i, label i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((1, 2, 2), i, np.float32), np.int64(i)


def test_batches_len_and_drop_last():
    loader = DataLoader(Pairs(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 1, 2, 2), (4, 1, 2, 2), (2, 1, 2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10))
    dl = DataLoader(Pairs(10), batch_size=4, drop_last=True)
    assert len(dl) == len(list(dl)) == 2


def test_shuffle_is_seeded_per_epoch_and_resumable():
    def epoch_orders(loader, epochs):
        return [np.concatenate([b[1] for b in loader]) for _ in range(epochs)]

    a = epoch_orders(DataLoader(Pairs(20), 6, shuffle=True, seed=5), 3)
    b = epoch_orders(DataLoader(Pairs(20), 6, shuffle=True, seed=5), 3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.sort(x), np.arange(20))
    assert not np.array_equal(a[0], a[1])                    # a new order each epoch
    resumed = DataLoader(Pairs(20), 6, shuffle=True, seed=5)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in resumed]), a[2])
    other = epoch_orders(DataLoader(Pairs(20), 6, shuffle=True, seed=6), 1)
    assert not np.array_equal(other[0], a[0])


def test_transform_is_applied_per_sample_and_reproducible():
    ds = scenes.SceneDataset(6, size=32, seed=0, task="segmentation")
    t = transforms.transforms_for("segmentation", crop=24)
    a = list(DataLoader(ds, 3, shuffle=True, seed=1, transform=t))
    b = list(DataLoader(ds, 3, shuffle=True, seed=1, transform=t))
    assert a[0][0].shape == (3, 3, 24, 24) and a[0][1].shape == (3, 24, 24) and a[0][1].dtype == np.int64
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])


def test_crop_keeps_image_and_labels_aligned():
    ds = scenes.SceneDataset(1, size=32, seed=2, task="segmentation")
    image, labels = ds[0]
    rng = np.random.default_rng(0)
    for _ in range(5):
        ci, cl = RandomCrop((20, 16), "labels")(image, labels, rng)
        hits = [(t, lft) for t in range(13) for lft in range(17)
                if np.array_equal(image[:, t:t + 20, lft:lft + 16], ci)]
        assert len(hits) == 1
        t, lft = hits[0]
        np.testing.assert_array_equal(labels[t:t + 20, lft:lft + 16], cl)
        assert set(np.unique(cl)) <= set(np.unique(labels))            # never interpolated


def test_flip_keeps_normals_keypoints_and_depth_consistent():
    d = scenes.generate(6, 48, seed=4)
    for i in range(6):
        image, normals = hflip(d["image"][i], d["normals"][i], "normals")
        _, depth = hflip(d["image"][i], d["depth"][i], "depth")
        _, inst = hflip(d["image"][i], d["instances"][i], "labels")
        # normals derived from the flipped depth agree with the flipped normals on planar pixels
        # (the same object and the same normal over the 3x3 neighbourhood)
        derived = scenes.normals_from_depth(depth[None])[0]
        planar = np.ones(inst.shape, dtype=bool)
        planar[[0, -1]] = planar[:, [0, -1]] = False
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                planar &= (np.roll(inst, (dy, dx), (0, 1)) == inst) & (
                    np.abs(np.roll(normals, (dy, dx), (1, 2)) - normals).max(0) < 1e-5)
        assert planar.sum() > 100
        assert np.degrees(np.arccos(np.clip((derived * normals).sum(0)[planar].min(), -1, 1))) < 3
        # keypoints mirrored land on the same image content
        vis = d["keypoint_visible"][i]
        pts, fpts = d["keypoints"][i][vis], flip_keypoints(d["keypoints"][i][vis], 48)
        r, c = np.rint(pts[:, 1]).astype(int), np.rint(pts[:, 0]).astype(int)
        fr, fc = np.rint(fpts[:, 1]).astype(int), np.rint(fpts[:, 0]).astype(int)
        np.testing.assert_array_equal(image[:, fr, fc], d["image"][i][:, r, c])
        np.testing.assert_array_equal(depth[0, fr, fc], d["depth"][i][0, r, c])


def test_flipped_heatmaps_equal_heatmaps_of_flipped_keypoints():
    d = scenes.generate(2, 32, seed=9)
    pts, kind, vis = d["keypoints"][0], d["keypoint_type"][0], d["keypoint_visible"][0]
    heat = scenes.keypoint_heatmaps(pts, kind, vis, 32)
    _, flipped = hflip(d["image"][0], heat, "heatmaps")
    np.testing.assert_allclose(flipped, scenes.keypoint_heatmaps(flip_keypoints(pts, 32), kind, vis, 32), atol=1e-6)


def test_random_flip_probability_and_kinds():
    image, labels = np.arange(12.0).reshape(1, 3, 4), np.arange(12).reshape(3, 4)
    rng = np.random.default_rng(0)
    never, always = RandomHorizontalFlip("labels", p=0), RandomHorizontalFlip("labels", p=1)
    np.testing.assert_array_equal(never(image, labels, rng)[1], labels)
    np.testing.assert_array_equal(always(image, labels, rng)[1], labels[:, ::-1])
    normals = np.ones((3, 3, 4))
    _, fn = RandomHorizontalFlip("normals", p=1)(image, normals, rng)
    np.testing.assert_array_equal(fn[0], -1) and np.testing.assert_array_equal(fn[1:], 1)


def test_transforms_bad_input():
    with pytest.raises(ValueError, match="RandomHorizontalFlip: kind must be one of"):
        RandomHorizontalFlip("mask")
    with pytest.raises(ValueError, match="RandomCrop: crop size"):
        RandomCrop(40, "labels")(np.zeros((3, 32, 32)), np.zeros((32, 32)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="a 'labels' target must be"):
        RandomCrop(8, "labels")(np.zeros((3, 32, 32)), np.zeros((1, 32, 32)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="transforms_for: task must be one of"):
        transforms.transforms_for("colour")
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int"):
        DataLoader(Pairs(3), batch_size=0)


def test_png_round_trip(tmp_path):
    rgb = np.random.default_rng(0).uniform(size=(5, 7, 3)).astype(np.float32)
    io.write_png(tmp_path / "a.png", rgb)
    back = io.read_png(tmp_path / "a.png")
    assert back.shape == (5, 7, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, atol=0.5 / 255 + 1e-6)
    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    io.write_png(tmp_path / "g.png", grey)
    assert io.read_png(tmp_path / "g.png").shape == (3, 4)
    with pytest.raises(ValueError, match="write_png: array must be"):
        io.write_png(tmp_path / "b.png", np.zeros((3, 5, 7)))
    with pytest.raises(ValueError, match=r"write_png: float values must be finite and in \[0, 1\]"):
        io.write_png(tmp_path / "b.png", rgb * 2)
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(ValueError, match="read_png: .* is not a readable image"):
        io.read_png(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="read_png: cannot open"):
        io.read_png(tmp_path / "missing.png")
