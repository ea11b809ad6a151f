"""Defaults that learn (issue 16 item 3): fit's and the models' defaults against a practitioner's recipe, on
two layouts the project never trained on.

    .venv/bin/python bench/defaults.py                      # full size: 600 train, 96 held out, 48×48, 8 epochs
    .venv/bin/python bench/defaults.py --recipes today      # one recipe (today, defaults, tuned, or a mix)
    .venv/bin/python bench/defaults.py --n-train 96 --n-val 32 --epochs 4 --base 8   # the test's small size

Layouts (both built from installed packages, no download):

- ``digits``: RGB 48×48 canvases holding 1–3 of scikit-learn's handwritten digits 0–2, each upscaled to
  16×16 (bilinear) into a distinct cell of a 3×3 grid, in an ink colour over a background colour; ink above
  0.3 is labelled digit + 1, the rest background 0. Training and held-out mosaics use disjoint source
  digits (``minidense.data.digits.split_indices``).
- ``textures``: RGB 48×48 canvases of a noisy flat background with 1–4 ellipses, each filled with a crop
  of one of scikit-learn's two sample photographs (china.jpg: class 1, flower.jpg: class 2), later ones
  on top. Training crops come from the photos' left halves, held-out crops from their right halves.

Recipes, all with ``UNet(3, C, base_channels=16, depth=3)`` trained by ``fit`` for the same steps
(``epochs`` of batch 16):

- ``today``: the defaults before issue 16 (``batch_norm=False``; ``lr=1e-3``, horizontal flips, cosine);
- ``defaults``: the model's and fit's current defaults, no argument given (since issue 16: ``batch_norm=True``;
  ``lr=1e-2``, fit's rate for a network with batch norm; horizontal flips, cosine);
- ``tuned``: the practitioner's recipe (``batch_norm=True``, Adam 3e-3, no flips).

Prints one JSON line per run (layout, recipe, held-out mean IoU, seconds) and a table.
"""
import argparse
import json
import time

import numpy as np

import minidense as md
from minidense.data import digits
from minidense.models import UNet
from minidense.train import fit

LAYOUTS = ("digits", "textures")
RECIPES = {
    # model keyword arguments, fit keyword arguments
    "today": ({"batch_norm": False}, {"lr": 1e-3, "augment": True, "schedule": "cosine"}),
    "defaults": ({}, {}),
    "tuned": ({"batch_norm": True}, {"lr": 3e-3, "augment": False}),
    # the candidates tried for the defaults, one change at a time ("bn_lr1e2" is what became the defaults)
    "bn": ({"batch_norm": True}, {"lr": 1e-3, "augment": True}),
    "bn_lr": ({"batch_norm": True}, {"lr": 3e-3, "augment": True}),
    "lr": ({"batch_norm": False}, {"lr": 3e-3, "augment": True}),
    "bn_lr1e2": ({"batch_norm": True}, {"lr": 1e-2, "augment": True}),
}


class PairList(list):
    """A list of (image, target) pairs that can say whether left-right flips keep its labels' meaning."""

    def __init__(self, pairs, flip_safe):
        super().__init__(pairs)
        self.flip_safe = flip_safe


def _bilinear(glyph, side):
    """(8, 8) -> (side, side) by linear interpolation between pixel centres on both axes."""
    src = glyph.shape[0]
    pos = np.clip((np.arange(side) + 0.5) * src / side - 0.5, 0, src - 1)
    m = np.stack([np.interp(pos, np.arange(src), e) for e in np.eye(src)], axis=1)   # (side, src)
    return m @ glyph @ m.T


def digit_mosaics(n, split="train", seed=0, size=48, glyph=16, classes=(0, 1, 2), per_image=(1, 3), ink=0.3):
    """The issue's digit mosaics: a PairList of (image (3, size, size) float32, labels (size, size) int64)."""
    images, labels = digits.load_source_digits()
    pool = digits.split_indices(split, len(images))
    pool = pool[np.isin(labels[pool], classes)]
    rng = np.random.default_rng(seed)
    grid = size // glyph
    pairs = []
    for _ in range(n):
        canvas = np.empty((3, size, size))
        background = rng.uniform(0.0, 0.4, 3)
        canvas[:] = background[:, None, None]
        target = np.zeros((size, size), np.int64)
        count = int(rng.integers(per_image[0], per_image[1] + 1))
        for cell in rng.permutation(grid * grid)[:count]:
            source = int(rng.choice(pool))
            g = _bilinear(images[source], glyph)
            r, c = divmod(int(cell), grid)
            window = (slice(r * glyph, (r + 1) * glyph), slice(c * glyph, (c + 1) * glyph))
            colour = rng.uniform(0.6, 1.0, 3)
            canvas[(slice(None),) + window] += (colour - background)[:, None, None] * g
            target[window] = np.where(g > ink, 1 + classes.index(int(labels[source])), 0)
        pairs.append((canvas.astype(np.float32), target))
    return PairList(pairs, flip_safe=False)    # a mirrored 2 is not a 2


def texture_layouts(n, split="train", seed=0, size=48, shapes=(1, 4)):
    """Ellipses of photo texture on a noisy background: a PairList of (image (3, S, S), labels (S, S))."""
    from sklearn.datasets import load_sample_images
    photos = [np.asarray(p, np.float64)[::2, ::2] / 255 for p in load_sample_images().images]   # 214×320
    half = photos[0].shape[1] // 2
    rng = np.random.default_rng(seed + (0 if split == "train" else 1_000_003))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    pairs = []
    for _ in range(n):
        colour = rng.uniform(0.2, 0.8, 3)
        canvas = np.clip(colour[:, None, None] + rng.normal(0, 0.05, (3, size, size)), 0, 1)
        target = np.zeros((size, size), np.int64)
        for _ in range(int(rng.integers(shapes[0], shapes[1] + 1))):
            k = int(rng.integers(2))
            photo = photos[k]
            top = int(rng.integers(0, photo.shape[0] - size))
            left = int(rng.integers(0, half - size)) + (0 if split == "train" else half)
            crop = photo[top:top + size, left:left + size].transpose(2, 0, 1)
            cy, cx = rng.uniform(0.2 * size, 0.8 * size, 2)
            a, b = rng.uniform(0.12 * size, 0.3 * size, 2)
            t = rng.uniform(0, np.pi)
            u = ((xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)) / a
            v = (-(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)) / b
            inside = u * u + v * v <= 1
            canvas[:, inside] = crop[:, inside]
            target[inside] = 1 + k
        pairs.append((canvas.astype(np.float32), target))
    return PairList(pairs, flip_safe=True)     # a mirrored texture is the same texture


BUILDERS = {"digits": digit_mosaics, "textures": texture_layouts}
CLASSES = {"digits": 4, "textures": 3}


def run(layout, recipe, n_train=600, n_val=96, epochs=8, batch_size=16, base=16, depth=3, seed=0,
        plain_lists=False, **layout_options):
    """Train one recipe on one layout; returns the held-out mean IoU after the last epoch.

    plain_lists: hand fit plain lists of pairs, without the ``flip_safe`` declaration (a newcomer's data).
    layout_options: passed to the layout's builder (e.g. ``size=24, glyph=8`` for smaller digit mosaics).
    """
    train = BUILDERS[layout](n_train, "train", seed=seed, **layout_options)
    val = BUILDERS[layout](n_val, "test", seed=seed + 1, **layout_options)
    if plain_lists:
        train, val = list(train), list(val)
    model_kw, fit_kw = RECIPES[recipe]
    md.manual_seed(seed)
    model = UNet(3, CLASSES[layout], base_channels=base, depth=depth, **model_kw)
    history = fit(model, "segmentation", train, val, epochs=epochs, batch_size=batch_size, seed=seed,
                  progress=False, log=lambda *a: None, **fit_kw)
    return history[-1]["miou"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-val", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = {}
    for layout in args.layouts:
        for recipe in args.recipes:
            start = time.perf_counter()
            miou = run(layout, recipe, args.n_train, args.n_val, args.epochs, args.batch_size, args.base,
                       seed=args.seed)
            results[layout, recipe] = miou
            print(json.dumps({"layout": layout, "recipe": recipe, "miou": round(miou, 4),
                              "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    print(f"\n{'layout':10s}" + "".join(f"{r:>10s}" for r in args.recipes))
    for layout in args.layouts:
        print(f"{layout:10s}" + "".join(f"{results[layout, r]:10.3f}" for r in args.recipes))


if __name__ == "__main__":
    main()
