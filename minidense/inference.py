"""A trained model on image files: read as its training read images, predicted at any size, written in
the formats the folders read.

    model, task, config = checkpoint.load_model("runs/mine/best.npz")    # everything comes from the checkpoint
    answer = predict_file(model, task, config, "photo.jpg")              # labels (H, W) at the photo's size
    write_prediction("photo.png", answer, task, config)                  # index mask + photo_colour.png

Any image size works: the model's input is padded to its ``size_multiple`` and the output cropped back
(``train.forward``); a model trained on resized images (``config["image_size"]``) sees the image resized
the same way, and its answer is resized back to the image's size, nearest-neighbour.
"""
import os

import numpy as np

from .tensor import no_grad
from .train import forward


def read_input(path, task, config):
    """(image (C, H', W') float32 as the model takes it, (H, W) of the file): resized to the training size
    when training resized, the channels the task takes, normalised as ``config["input"]`` records.
    An unreadable file is a ValueError naming it."""
    from PIL import Image, UnidentifiedImageError

    from .data.folders import read_image
    size = config.get("image_size")
    try:
        with Image.open(path) as im:
            w, h = im.size
        image = read_image(path, tuple(size) if size else None)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read {str(path)!r} as an image: {exc}") from None
    if task.in_channels == 1:
        image = image.mean(axis=0, keepdims=True)
    mean, std = (np.asarray(config["input"][k], np.float32)[:, None, None] for k in ("mean", "std"))
    return ((image - mean) / std).astype(np.float32), (h, w)


def predict_file(model, task, config, path, device="cpu"):
    """The task's answer for one image file, at the file's own size: labels (H, W) for segmentation,
    (C, H, W) otherwise."""
    from .data.folders import resize_nearest
    image, (h, w) = read_input(path, task, config)
    model.eval()
    with no_grad():
        answer = task.predict(forward(model, image[None], device))[0]
    return resize_nearest(answer, (h, w))


def write_prediction(path, answer, task, config):
    """The answer at ``path`` in the format the folders read, and a picture for people at ``<stem>_colour.png``:
    segmentation an index mask (a palette PNG with the classes' colours), depth a 16-bit PNG in the training
    data's units (``depth_scale``, default millimetres), normals an RGB PNG of (n + 1) / 2; other tasks a picture."""
    from PIL import Image

    from .data.io import voc_palette, write_png
    colour_path = os.path.splitext(path)[0] + "_colour.png"
    if task.target_kind == "labels":
        colours = voc_palette()
        colours[:len(config["classes"])] = [c["colour"] for c in config["classes"]]
        mask = Image.fromarray(answer.astype(np.uint8))          # mode L; putpalette makes it a palette image
        mask.putpalette(colours.reshape(-1).tolist())
        mask.save(path, format="PNG")
        Image.fromarray(colours[answer]).save(colour_path, format="PNG")
    elif task.target_kind == "depth":
        units = np.rint(answer[0] / config.get("depth_scale", 1e-3))
        Image.fromarray(np.clip(units, 0, 65535).astype(np.uint16)).save(path, format="PNG")
        write_png(colour_path, task.picture(answer))
    elif task.target_kind == "normals":
        write_png(path, np.clip((answer.transpose(1, 2, 0) + 1) / 2, 0, 1))
    else:
        write_png(path, task.picture(answer))   # each task draws its own pictures
