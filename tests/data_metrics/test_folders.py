"""A user's own folders: both layouts, raw mask indices, nearest-neighbour resizing, classes.json, depth and
normals, and one clear error for a bad folder."""
import json
import os

import numpy as np
import pytest
from folder_data import PALETTE, save_mask, write_folder, write_voc
from PIL import Image

from minidense import IGNORE_INDEX
from minidense.data import DepthFolder, NormalsFolder, SegmentationFolder
from minidense.data.transforms import RandomCrop, RandomHorizontalFlip


def test_images_and_masks_layout(tmp_path):
    masks = write_folder(str(tmp_path), 5, size=(24, 32))
    data = SegmentationFolder(str(tmp_path))
    assert len(data) == 5 and data.num_classes == 3 and data.classes == ["class 0", "class 1", "class 2"]
    image, mask = data[2]
    assert image.shape == (3, 24, 32) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
    assert mask.shape == (24, 32) and mask.dtype == np.int64
    np.testing.assert_array_equal(mask, masks[2])                       # raw indices, 255 kept as the unknown label
    assert (mask == IGNORE_INDEX).sum() == 3
    np.testing.assert_array_equal(data.colours, PALETTE)                 # the masks' own palette
    assert data.flip_safe is False and data.image_sizes == [(24, 32)] * 5


def test_pascal_voc_layout_with_splits(tmp_path):
    masks = write_voc(str(tmp_path), n_train=4, n_val=3)
    train, val = SegmentationFolder(str(tmp_path), split="train"), SegmentationFolder(str(tmp_path), split="val")
    every = SegmentationFolder(str(tmp_path))
    assert (len(train), len(val), len(every)) == (4, 3, 7)
    assert val.stems == ["2007_000004", "2007_000005", "2007_000006"]
    image, mask = val[0]
    assert image.shape == (3, 32, 32)
    np.testing.assert_array_equal(mask, masks["2007_000004"])
    with pytest.raises(ValueError, match="trainval"):
        SegmentationFolder(str(tmp_path), split="trainval")


def test_split_subfolders_and_list_files(tmp_path):
    write_folder(str(tmp_path / "train"), 3)
    write_folder(str(tmp_path / "val"), 2, seed=1)
    assert len(SegmentationFolder(str(tmp_path), split="train")) == 3
    assert len(SegmentationFolder(str(tmp_path), split="val")) == 2
    write_folder(str(tmp_path / "flat"), 4)
    (tmp_path / "flat" / "few.txt").write_text("001\n003\n")
    assert SegmentationFolder(str(tmp_path / "flat"), split="few").stems == ["001", "003"]


def test_resizing_is_nearest_neighbour_for_masks(tmp_path):
    write_folder(str(tmp_path), 2, size=32)
    original = SegmentationFolder(str(tmp_path))
    small = SegmentationFolder(str(tmp_path), size=(12, 20))
    image, mask = small[0]
    assert image.shape == (3, 12, 20) and mask.shape == (12, 20)
    assert set(np.unique(mask)) <= set(np.unique(original[0][1]))        # no blended label appears
    rows = ((np.arange(12) + 0.5) * 32 / 12).astype(int)
    cols = ((np.arange(20) + 0.5) * 32 / 20).astype(int)
    np.testing.assert_array_equal(mask, original[0][1][rows][:, cols])


def test_classes_json_names_colours_and_flips(tmp_path):
    write_folder(str(tmp_path), 2)
    spec = {"classes": [{"name": "ground", "colour": [1, 2, 3]}, {"name": "red", "colour": [250, 0, 0]},
                        {"name": "blue", "colour": [0, 0, 250]}], "flip_safe": True}
    (tmp_path / "classes.json").write_text(json.dumps(spec))
    data = SegmentationFolder(str(tmp_path))
    assert data.classes == ["ground", "red", "blue"] and data.flip_safe is True
    np.testing.assert_array_equal(data.colours, [[1, 2, 3], [250, 0, 0], [0, 0, 250]])
    (tmp_path / "classes.json").write_text(json.dumps(["a", "b", "c", "d"]))
    data = SegmentationFolder(str(tmp_path))
    assert data.num_classes == 4 and data.flip_safe is False


def _bad(tmp_path, match):
    with pytest.raises(ValueError, match=match) as info:
        SegmentationFolder(str(tmp_path))
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_bad_folder_gets_one_clear_error(tmp_path):
    write_folder(str(tmp_path), 3)
    os.remove(tmp_path / "masks" / "001.png")
    _bad(tmp_path, r"001\.png: no masks file 001\.png")
    save_mask(str(tmp_path / "masks" / "001.png"), np.zeros((16, 32), dtype=np.uint8))
    _bad(tmp_path, r"001\.png: 16x32 pixels but its image .*000?1\.png is 32x32")
    save_mask(str(tmp_path / "masks" / "001.png"), np.full((32, 32), 7, dtype=np.uint8))
    (tmp_path / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    _bad(tmp_path, r"001\.png: class index 7 but there are 3 classes \(0\.\.2, and 255 for unknown\)")
    Image.new("RGB", (32, 32)).save(tmp_path / "masks" / "001.png")
    _bad(tmp_path, "must be a palette or 8-bit index image.*'RGB'")
    with pytest.raises(ValueError, match="neither images/"):
        SegmentationFolder(str(tmp_path / "masks"))


def test_depth_from_16_bit_png_times_scale_and_npy(tmp_path):
    write_folder(str(tmp_path), 2, size=16)
    os.makedirs(tmp_path / "depth")
    mm = np.random.default_rng(0).integers(500, 9000, (16, 16)).astype(np.uint16)
    Image.fromarray(mm).save(tmp_path / "depth" / "000.png")
    metres = np.random.default_rng(1).uniform(1, 5, (16, 16)).astype(np.float32)
    np.save(tmp_path / "depth" / "001.npy", metres)
    data = DepthFolder(str(tmp_path))
    np.testing.assert_allclose(data[0][1], mm[None] * np.float32(1e-3), rtol=1e-6)
    np.testing.assert_array_equal(data[1][1], metres[None])
    assert data[1][1].shape == (1, 16, 16) and data.flip_safe is True
    np.testing.assert_allclose(DepthFolder(str(tmp_path), scale=1 / 256)[0][1], mm[None] / np.float32(256),
                               rtol=1e-6)


def test_normals_from_npy_and_png(tmp_path):
    write_folder(str(tmp_path), 2, size=16)
    os.makedirs(tmp_path / "normals")
    n = np.random.default_rng(0).normal(size=(16, 16, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    np.save(tmp_path / "normals" / "000.npy", n.astype(np.float32))           # (H, W, 3) is accepted
    Image.fromarray(np.rint((n + 1) * 127.5).astype(np.uint8)).save(tmp_path / "normals" / "001.png")
    data = NormalsFolder(str(tmp_path))
    np.testing.assert_allclose(data[0][1], n.transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(data[1][1], n.transpose(2, 0, 1), atol=0.02)  # 8 bits per component
    assert np.allclose(np.linalg.norm(data[1][1], axis=0), 1, atol=1e-5)


def test_single_channel_targets_as_h_w():
    """A depth map stored (H, W), as depth usually is, is flipped and cropped like a (1, H, W) one."""
    rng = np.random.default_rng(0)
    image, depth = rng.random((3, 8, 10)).astype(np.float32), rng.random((8, 10)).astype(np.float32)
    flip = RandomHorizontalFlip("depth", p=1.0)
    got_image, got = flip(image, depth, rng)
    np.testing.assert_array_equal(got, depth[:, ::-1])
    np.testing.assert_array_equal(got[None], flip(image, depth[None], rng)[1])
    assert RandomCrop(4, "depth")(image, depth, np.random.default_rng(1))[1].shape == (4, 4)
    with pytest.raises(ValueError, match=r"'normals' target must be \(3, H, W\)"):
        RandomHorizontalFlip("normals")(image, depth, rng)


class _FlatDepth:
    """Scenes whose depth targets are (H, W) maps."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        image, depth = self.data[i]
        return image, depth[0]


def test_fit_takes_h_w_depth_targets_as_1_h_w():
    import minidense as md
    from minidense.models import UNet
    from minidense.tasks import get_task
    from minidense.train import fit
    task = get_task("depth")
    train, val = task.dataset(8, size=16, seed=1), task.dataset(4, size=16, seed=2)
    histories = []
    for wrap in (lambda d: d, _FlatDepth):
        md.manual_seed(0)
        history = fit(UNet(3, 1, base_channels=2, depth=2), "depth", wrap(train), wrap(val), epochs=1,
                      batch_size=4, progress=False)
        histories.append([{k: v for k, v in r.items() if k != "images_per_s"} for r in history])
    assert histories[0] == histories[1] and "abs_rel" in histories[0][0]


def test_flips_only_where_classes_json_allows(tmp_path):
    import minidense as md
    from minidense.models import UNet
    from minidense.tasks import get_task
    from minidense.train import fit
    write_folder(str(tmp_path), 8, size=16)

    def losses(augment):
        md.manual_seed(0)
        data = SegmentationFolder(str(tmp_path))
        history = fit(UNet(3, 3, base_channels=2, depth=2), get_task("segmentation", num_classes=3), data, epochs=2,
                      batch_size=4, progress=False, augment=augment)
        return [r["train_loss"] for r in history]

    assert losses(True) == losses(False)                 # flip_safe is False by default: no flips
    (tmp_path / "classes.json").write_text(json.dumps({"classes": ["a", "b", "c"], "flip_safe": True}))
    assert losses(True) != losses(False)
