"""Small folders of images and masks written by the tests themselves, in both layouts."""
import os

import numpy as np

from minidense.constants import IGNORE_INDEX

# class 1 is a reddish box, class 2 a bluish box on a grey, noisy background; a few pixels are unknown
PALETTE = [(0, 0, 0), (200, 30, 30), (30, 30, 200)]


def scene(rng, size):
    """(image (H, W, 3) uint8, mask (H, W) uint8) of one sample."""
    h, w = (size, size) if isinstance(size, int) else size
    image = rng.integers(90, 150, (h, w, 3))
    mask = np.zeros((h, w), dtype=np.uint8)
    for cls in (1, 2):
        bh, bw = rng.integers(h // 4, h // 2), rng.integers(w // 4, w // 2)
        top, left = rng.integers(0, h - bh), rng.integers(0, w - bw)
        mask[top:top + bh, left:left + bw] = cls
        image[top:top + bh, left:left + bw] = np.asarray(PALETTE[cls]) + rng.integers(-20, 20, (bh, bw, 3))
    mask[0, :3] = IGNORE_INDEX
    return np.clip(image, 0, 255).astype(np.uint8), mask


def save_mask(path, mask, palette=PALETTE):
    """A palette PNG, as Pascal VOC stores its masks (255 gets VOC's cream)."""
    from PIL import Image
    im = Image.fromarray(mask)
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:len(palette)] = palette
    colours[IGNORE_INDEX] = (224, 224, 192)
    im.putpalette(colours.reshape(-1).tolist())
    im.save(path)


def write_folder(root, n, size=32, seed=0, ext=".png"):
    """root/images/NNN.png + root/masks/NNN.png; returns the masks (n, H, W) in file order."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "masks"), exist_ok=True)
    masks = []
    for i in range(n):
        image, mask = scene(rng, size)
        Image.fromarray(image).save(os.path.join(root, "images", f"{i:03d}{ext}"))
        save_mask(os.path.join(root, "masks", f"{i:03d}.png"), mask)
        masks.append(mask)
    return np.stack(masks) if len({m.shape for m in masks}) == 1 else masks


def write_voc(root, n_train, n_val, size=32, seed=0):
    """Pascal VOC's layout: JPEGImages/*.jpg, SegmentationClass/*.png, ImageSets/Segmentation/{train,val}.txt."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for d in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    stems, masks = [], {}
    for i in range(n_train + n_val):
        stem = f"2007_{i:06d}"
        image, mask = scene(rng, size)
        Image.fromarray(image).save(os.path.join(root, "JPEGImages", stem + ".jpg"), quality=95)
        save_mask(os.path.join(root, "SegmentationClass", stem + ".png"), mask)
        stems.append(stem)
        masks[stem] = mask
    for split, names in (("train", stems[:n_train]), ("val", stems[n_train:])):
        with open(os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
            f.write("\n".join(names) + "\n")
    return masks
