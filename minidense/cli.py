"""The `minidense` command: train, eval, predict, info (and assignment, for course kits).

    minidense train --task segmentation --model unet --epochs 5 --out runs/seg
    minidense eval --checkpoint runs/seg/best.npz
    minidense predict --checkpoint runs/seg/best.npz --input photo.png --out labels.png
    minidense info

Bad arguments, missing files and unreadable images exit with status 2 and one
clear line; ``--debug`` shows the traceback instead.
"""
import argparse
import json
import os
import platform
import sys

import numpy as np

from . import __version__, backend, checkpoint


class UsageError(Exception):
    """A mistake of the person at the keyboard: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def build_parser():
    from .models import MODELS
    from .tasks import TASKS
    parser = _Parser(prog="minidense", description="Pixel labeling with a from-scratch NumPy/CuPy framework.")
    parser.add_argument("--version", action="version", version=f"minidense {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on the built-in scenes")
    t.add_argument("--task", choices=sorted(TASKS), default="segmentation")
    t.add_argument("--model", choices=sorted(MODELS), default="unet")
    t.add_argument("--epochs", type=_positive_int, default=5)
    t.add_argument("--batch-size", type=_positive_int, default=8)
    t.add_argument("--lr", type=_positive_float, default=3e-3)
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="folder for checkpoints, history and pictures")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    t.add_argument("--size", type=_positive_int, default=64, help="image side in pixels")
    t.add_argument("--n-train", type=_positive_int, default=512, help="number of training scenes")
    t.add_argument("--n-val", type=_positive_int, default=64, help="number of held-out scenes")
    t.add_argument("--base-channels", type=_positive_int, default=16)
    t.add_argument("--depth", type=_positive_int, default=3, help="U-Net / encoder-decoder levels")
    t.add_argument("--on-nan", choices=("stop", "skip"), default="stop")
    t.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("eval", help="evaluate a checkpoint on held-out scenes")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--n", type=_positive_int, default=64, help="number of held-out scenes")
    e.add_argument("--device", default="cpu")

    p = sub.add_parser("predict", help="run a checkpoint on one PNG image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="a PNG image")
    p.add_argument("--out", required=True, help="where to write the prediction picture (PNG)")
    p.add_argument("--device", default="cpu")

    sub.add_parser("info", help="versions, array backend, BLAS and GPU")

    a = sub.add_parser("assignment", help="course assignment kits")
    a_sub = a.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    a_sub.add_parser("list", help="list the assignments")
    m = a_sub.add_parser("make", help="write a student kit")
    m.add_argument("name")
    m.add_argument("--out", required=True)
    return parser


# the held-out scenes never share a seed with the training scenes
VAL_SEED_OFFSET = 10_000


def _size_multiple(model, depth):
    """Image sides must be multiples of this for the model's poolings / strides to come back even."""
    return {"unet": 2 ** (depth - 1), "encdec": 2 ** (depth - 1), "fcn": 8, "autoencoder": 4}[model]


def _model_for(config, task):
    from .models import build_model
    kw = {"base_channels": config["base_channels"]}
    if config["model"] in ("unet", "encdec"):
        kw["depth"] = config["depth"]
        kw["batch_norm"] = config.get("batch_norm", False)   # runs from before batch norm was the default
    if config["model"] == "autoencoder":
        kw["size"] = config["size"]
    return build_model(config["model"], task.in_channels, task.out_channels, **kw)


def cmd_train(args):
    from .tasks import get_task
    from .train import fit
    device = _device(args.device)
    task = get_task(args.task)
    config = {k: getattr(args, k) for k in ("task", "model", "size", "n_train", "n_val", "base_channels", "depth")}
    config["batch_norm"] = True    # the models' default; recorded so that old runs (without it) load as they were
    multiple = _size_multiple(args.model, args.depth)
    if args.size % multiple:
        raise UsageError(f"minidense train: --size {args.size} must be a multiple of {multiple} for --model "
                         f"{args.model} --depth {args.depth}")
    if args.task == "autoencode" and args.model != "autoencoder" or args.model == "autoencoder" and \
            args.task != "autoencode":
        raise UsageError("minidense train: --model autoencoder goes with --task autoencode (and only with it)")
    backend.manual_seed(args.seed)
    model = _model_for(config, task)
    train_set = task.dataset(args.n_train, size=args.size, seed=args.seed)
    val_set = task.dataset(args.n_val, size=args.size, seed=args.seed + VAL_SEED_OFFSET)
    if args.resume and not os.path.exists(os.path.join(args.out, "last.npz")):
        raise UsageError(f"minidense train: --resume given but {os.path.join(args.out, 'last.npz')} does not exist")
    history = fit(model, task, train_set, val_set, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  out=args.out, device=device, seed=args.seed, progress=not args.no_progress, resume=args.resume,
                  on_nan=args.on_nan, config=config)
    final = history[-1] if history else {}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()}))
    print(f"pictures, curves and checkpoints written to {os.path.abspath(args.out)}")


def _load_run(path, device):
    from .tasks import get_task
    state = checkpoint.load(path)   # CheckpointError (a ValueError) for foreign or truncated files
    config = state.get("config") or {}
    if "model" not in config or "task" not in config:
        raise UsageError(f"minidense: {path} holds no run configuration (was it written by `minidense train`?)")
    task = get_task(config["task"])
    model = _model_for(config, task)
    model.load_state_dict(checkpoint.model_state(state, model))
    model.to(device)
    model.eval()
    return model, task, config


def cmd_eval(args):
    from .train import evaluate
    device = _device(args.device)
    model, task, config = _load_run(args.checkpoint, device)
    data = task.dataset(args.n, size=config["size"], seed=config.get("seed", 0) + 2 * VAL_SEED_OFFSET)
    scores = evaluate(model, task, data, device=device)
    print(json.dumps({k: round(float(v), 4) for k, v in scores.items() if np.isscalar(v)}))


def cmd_predict(args):
    from .data.io import read_png, write_png
    from .tensor import Tensor, no_grad
    device = _device(args.device)
    model, task, config = _load_run(args.checkpoint, device)
    if not os.path.isfile(args.input):
        raise UsageError(f"minidense predict: input file {args.input!r} does not exist")
    try:
        image = read_png(args.input)
    except (ValueError, OSError) as exc:
        raise UsageError(f"minidense predict: cannot read {args.input!r} as a PNG image: {exc}") from None
    image = image[..., None] if image.ndim == 2 else image[..., :3]
    if image.shape[-1] != task.in_channels and task.in_channels in (1, 3):
        image = image.mean(axis=-1, keepdims=True) if task.in_channels == 1 else np.repeat(image, 3, axis=-1)
    h, w = image.shape[:2]
    multiple = _size_multiple(config["model"], config["depth"])
    if h % multiple or w % multiple or (config["model"] == "autoencoder" and (h, w) != (config["size"],) * 2):
        need = f"{config['size']}x{config['size']}" if config["model"] == "autoencoder" else f"multiples of {multiple}"
        raise UsageError(f"minidense predict: image is {h}x{w} pixels but this model needs {need}")
    x = Tensor(backend.to_device(image.transpose(2, 0, 1)[None].astype(np.float32), device))
    with no_grad():
        pred = task.predict(model(x))[0]
    picture = task.picture(pred)
    write_png(args.out, picture)
    print(f"prediction written to {os.path.abspath(args.out)}")


def cmd_info(args):
    print(f"minidense {__version__}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"numpy {np.__version__}")
    blas = _blas_info()
    print(f"BLAS: {blas}")
    print(f"CPU cores: {os.cpu_count()}")
    reason = backend.gpu_unavailable_reason()
    print("GPU: usable (CuPy)" if reason is None else f"GPU: not usable ({reason})")


def _blas_info():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        name = "unknown"
    threads = next((os.environ[v] for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                    if v in os.environ), None)
    return f"{name}, threads: {threads or f'default (up to {os.cpu_count()})'}"


def cmd_assignment(args):
    from . import assignments
    if args.action == "list":
        for name, spec in assignments.ASSIGNMENTS.items():
            print(f"{name:24s} {spec.title}")
    elif args.action == "make":
        if args.name not in assignments.ASSIGNMENTS:
            raise UsageError(f"minidense assignment make: unknown assignment {args.name!r}; choose one of "
                             f"{', '.join(assignments.ASSIGNMENTS)}")
        path = assignments.make_kit(args.name, args.out)
        print(f"kit written to {os.path.abspath(path)}")
    else:
        raise UsageError("minidense assignment: choose an action: list or make (see minidense assignment --help)")


def _device(name):
    try:
        return backend.check_device(name)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UsageError(f"minidense: {exc}") from None


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "info": cmd_info,
            "assignment": cmd_assignment}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("minidense: choose a command: train, eval, predict, info or assignment "
                             "(see minidense --help)")
        COMMANDS[args.command](args)
    except UsageError as exc:
        if debug:
            raise
        print(str(exc), file=sys.stderr)
        return 2
    except (checkpoint.CheckpointError, FileNotFoundError, ValueError, TypeError) as exc:
        if debug:
            raise
        print(f"minidense: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:   # training stopped on a NaN / inf (train.NonFiniteError)
        if debug:
            raise
        print(f"minidense: training stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minidense: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
