"""The built-in scenes under the defaults and under the plain recipe before them, seed by seed.

    .venv/bin/python bench/seeds.py --task sketch2image --seeds 0 1 2 3 4
    .venv/bin/python bench/seeds.py --task normals --seeds 0 1 2 3 --recipes plain

tests/training/test_train.py's runs (32×32 scenes, UNet(base_channels=16, depth=3), batch 8, its epochs and
training-set sizes) with the training data drawn from seed 1000·seed (seed 0: the test's own data), scored on
the test's 32 held-out scenes (seed 777). Recipes: ``defaults`` (no argument: batch norm, fit's default
learning rate) and ``plain`` (``batch_norm=False``, Adam 3e-3: the defaults before issue 16). One JSON line
per run (docs/design.md, "Defaults that learn", quotes them).
"""
import argparse
import json
import time

import minidense as md
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import evaluate, fit

#: tests/training/test_train.py's epochs and training-set sizes per task
RUNS = {"depth": (10, 256), "normals": (10, 256), "keypoints": (12, 256), "sketch2image": (16, 512)}
RECIPES = {"defaults": ({}, {}), "plain": ({"batch_norm": False}, {"lr": 3e-3})}


def run(task_name, recipe, seed, size=32):
    model_args, fit_args = RECIPES[recipe]
    epochs, n_train = RUNS[task_name]
    md.manual_seed(seed)
    task = get_task(task_name)
    train, val = task.dataset(n_train, size=size, seed=1000 * seed), task.dataset(16, size=size, seed=1000 * seed + 1)
    held_out = task.dataset(32, size=size, seed=777)
    model = UNet(task.in_channels, task.out_channels, base_channels=16, depth=3, **model_args)
    start = time.perf_counter()
    fit(model, task, train, val, epochs=epochs, batch_size=8, seed=seed, progress=False, log=lambda *a, **k: None,
        **fit_args)
    scores = evaluate(model, task, held_out)
    return {"task": task_name, "recipe": recipe, "seed": seed, task.metric: round(float(scores[task.metric]), 4),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(RUNS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    args = parser.parse_args(argv)
    for seed in args.seeds:
        for recipe in args.recipes:
            print(json.dumps(run(args.task, recipe, seed)), flush=True)


if __name__ == "__main__":
    main()
