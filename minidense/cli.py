"""The `minidense` command: train, eval, predict, export, info (and assignment, for course kits).

    minidense train --task segmentation --model unet --epochs 5 --out runs/seg        # the built-in scenes
    minidense train --task segmentation --data my/train --val-data my/val --size 64 --out runs/mine
    minidense eval --checkpoint runs/seg/best.npz [--data my/test]
    minidense predict --checkpoint runs/seg/best.npz --input photo.png --out labels.png
    minidense predict --checkpoint runs/mine/best.npz --input my/test/images --out predictions/
    minidense export --checkpoint runs/seg/best.npz --out model.onnx
    minidense info

``--data`` folders are read by ``minidense.data.folders`` (``images/`` + ``masks/``, or Pascal VOC's
layout). A checkpoint rebuilds its model, task and classes from its own config (``checkpoint.load_model``).

Bad arguments, missing files and unreadable images exit with status 2 and one
clear line; ``--debug`` shows the traceback instead.
"""
import argparse
import json
import os
import platform
import sys

import numpy as np

from . import __version__, _malloc, backend, checkpoint
from ._extras import MissingExtra


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


def _size(text):
    """"64" -> 64, "48x64" -> (48, 64)."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in pixels (64) or HxW (48x64), got {text!r}") from None
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected a size in pixels (64) or HxW (48x64), got {text!r}")
    return parts[0] if len(parts) == 1 else tuple(parts)


def build_parser():
    from .models import MODELS
    from .tasks import TASKS
    parser = _Parser(prog="minidense", description="Pixel labeling with a from-scratch NumPy/CuPy framework.")
    parser.add_argument("--version", action="version", version=f"minidense {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on the built-in scenes or on a folder (--data)")
    t.add_argument("--task", choices=sorted(TASKS), default="segmentation")
    t.add_argument("--model", choices=sorted(MODELS), default="unet")
    t.add_argument("--data", help="a folder of images and masks (or depth / normals) to train on, instead of "
                                  "the built-in scenes")
    t.add_argument("--val-data", help="a folder to validate on after each epoch (with --data)")
    t.add_argument("--split", help="the split of --data to train on (a subfolder, or a list file such as VOC's "
                                   "ImageSets/Segmentation/train.txt)")
    t.add_argument("--val-split", help="the split to validate on (of --val-data, else of --data)")
    t.add_argument("--depth-scale", type=_positive_float, default=1e-3,
                   help="metres per unit of a 16-bit depth PNG (--task depth --data)")
    t.add_argument("--epochs", type=_positive_int, default=5)
    t.add_argument("--batch-size", type=_positive_int, default=8)
    t.add_argument("--lr", type=_positive_float, default=None,
                   help="Adam's learning rate (default: 1e-2 for a model with batch norm, 3e-3 without)")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="folder for checkpoints, history and pictures")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    t.add_argument("--size", type=_size, default=None,
                   help="image side in pixels, or HxW (scenes: default 64; --data: default the images' own size)")
    t.add_argument("--n-train", type=_positive_int, default=512, help="number of training scenes")
    t.add_argument("--n-val", type=_positive_int, default=64, help="number of held-out scenes")
    t.add_argument("--base-channels", type=_positive_int, default=16)
    t.add_argument("--depth", type=_positive_int, default=3, help="U-Net / encoder-decoder levels")
    t.add_argument("--on-nan", choices=("stop", "skip"), default="stop")
    t.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("eval", help="evaluate a checkpoint on held-out scenes or on a folder (--data)")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", help="a folder of images and masks (or depth / normals) to evaluate on")
    e.add_argument("--split", help="the split of --data (a subfolder or a list file)")
    e.add_argument("--n", type=_positive_int, default=64, help="number of held-out scenes (without --data)")
    e.add_argument("--device", default="cpu")

    p = sub.add_parser("predict", help="run a checkpoint on an image or a folder of images")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="an image file (PNG, JPEG) or a folder of them")
    p.add_argument("--out", required=True, help="the output file (for one image) or folder: segmentation writes "
                                                "index masks (palette PNG) and OUT_colour.png pictures")
    p.add_argument("--device", default="cpu")

    x = sub.add_parser("export", help="write a checkpoint's model as ONNX")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--out", required=True, help="the .onnx file to write")
    x.add_argument("--size", type=_size, default=None,
                   help="the input's side (or HxW) for the exported graph (default: the training size)")

    sub.add_parser("info", help="versions, array backend, BLAS and GPU")

    a = sub.add_parser("assignment", help="course assignment kits")
    a_sub = a.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    a_sub.add_parser("list", help="list the assignments")
    m = a_sub.add_parser("make", help="write a student kit")
    m.add_argument("name")
    m.add_argument("--out", required=True)
    m.add_argument("--carry", nargs="+", metavar="KIT_DIR", help="the student's earlier kits: their solutions "
                   "replace the released code of those assignments, function by function")
    g = a_sub.add_parser("grade", help="grade a folder of submissions on hidden cases")
    g.add_argument("name")
    g.add_argument("submissions", help="a folder with one sub-folder or .zip per student (the id is its name)")
    g.add_argument("--out", required=True, help="a new folder for gradebook.csv, results.json, feedback (or the "
                   "folder of the run to --resume)")
    g.add_argument("--seed", required=True, help="the term seed (an integer, or @FILE holding one); the hidden "
                   "cases come from it and each student's id")
    g.add_argument("--jobs", type=int, default=1, help="students graded at a time (default 1)")
    g.add_argument("--timeout", type=float, default=600, help="seconds per student, all parts (default 600)")
    g.add_argument("--memory", type=float, default=4.0, help="GB of memory per child process (default 4)")
    g.add_argument("--require-isolation", action="store_true", help="refuse to grade where student code would "
                   "run with no isolation (not root and no user namespaces)")
    g.add_argument("--resume", action="store_true", help="go on with a killed run into the same --out (same "
                   "arguments): the students already graded are kept")
    g.add_argument("--only", nargs="+", metavar="ID", help="regrade these students into the --out of a finished run")
    g.add_argument("--no-namespaces", action="store_true", help="grade without namespaces (root: a user per "
                   "student only; otherwise no isolation), e.g. to compare")
    b = a_sub.add_parser("gradescope", help="build a Gradescope autograder zip")
    b.add_argument("name")
    b.add_argument("--out", required=True, help="the zip to write, e.g. autograder.zip")
    b.add_argument("--seed", required=True, help="the term seed (an integer, or @FILE holding one)")
    b.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    b.add_argument("--memory", type=float, default=4.0, help="GB of memory for the child (default 4)")
    b.add_argument("--wheels", action="store_true", help="put NumPy's and pip's wheels (Linux x86_64) in the zip, "
                   "so that the image installs with no package index (default: setup.sh installs from PyPI)")
    b.add_argument("--python-version", dest="python_versions", action="append", metavar="X.Y",
                   help="with --wheels: a CPython version of the image (repeat for several; default: "
                   "3.10 3.11 3.12 3.13)")
    b.add_argument("--wheel-cache", metavar="DIR", help="with --wheels: keep the wheels in DIR; a later build "
                   "with the same DIR needs no network")
    return parser


# the held-out scenes never share a seed with the training scenes
VAL_SEED_OFFSET = 10_000


def cmd_train(args):
    from .models import build_model
    from .train import fit
    device = _device(args.device)
    if args.task == "autoencode" and args.model != "autoencoder" or args.model == "autoencoder" and \
            args.task != "autoencode":
        raise UsageError("minidense train: --model autoencoder goes with --task autoencode (and only with it)")
    if args.resume and not os.path.exists(os.path.join(args.out, "last.npz")):
        raise UsageError(f"minidense train: --resume given but {os.path.join(args.out, 'last.npz')} does not exist")
    task, config, folders = _train_task(args)
    backend.manual_seed(args.seed)
    size = config["size"]
    kw = {"base_channels": args.base_channels}
    if args.model in ("unet", "encdec"):
        kw["depth"] = args.depth
    if args.model == "autoencoder":
        if not isinstance(size, int):
            raise UsageError(f"minidense train: --model autoencoder needs square images (--size N), got {size}")
        kw["size"] = size
    model = build_model(args.model, task.in_channels, task.out_channels, **kw)
    hw = (size, size) if isinstance(size, int) else size
    if hw[0] % model.size_multiple or hw[1] % model.size_multiple:
        what = f"--size {_show_size(size)}" if args.size is not None else \
            f"the images of --data ({_show_size(size)}; give --size to resize them)"
        raise UsageError(f"minidense train: {what} must be a multiple of {model.size_multiple} for --model "
                         f"{args.model} --depth {args.depth}")
    train_set, val_set = folders or (task.dataset(args.n_train, size=size, seed=args.seed),
                                     task.dataset(args.n_val, size=size, seed=args.seed + VAL_SEED_OFFSET))
    history = fit(model, task, train_set, val_set, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  out=args.out, device=device, seed=args.seed, progress=not args.no_progress, resume=args.resume,
                  on_nan=args.on_nan, config=config)
    final = history[-1] if history else {}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()}))
    print(f"pictures, curves and checkpoints written to {os.path.abspath(args.out)}")


def _train_task(args):
    """(task, the run's config entries, (train folder, val folder or None) or None for the scenes)."""
    from .tasks import get_task
    config = {k: getattr(args, k) for k in ("task", "model", "base_channels", "depth")}
    if not args.data:
        for option in ("val_data", "split", "val_split"):
            if getattr(args, option):
                raise UsageError(f"minidense train: --{option.replace('_', '-')} goes with --data")
        size = args.size if args.size is not None else 64
        return get_task(args.task), {**config, "size": size, "n_train": args.n_train, "n_val": args.n_val}, None
    train, val = _folders(args)
    sizes = set(train.image_sizes) | set(val.image_sizes if val else [])
    size = args.size
    if size is None and len(sizes) > 1:
        raise UsageError(f"minidense train: the images of --data / --val-data differ in size ({len(sizes)} sizes, "
                         f"e.g. {sorted(sizes)[:2]}): give --size N or HxW to resize them all")
    options = {"num_classes": train.num_classes} if args.task == "segmentation" else {}
    if args.task == "depth":
        config["depth_scale"] = args.depth_scale
    return get_task(args.task, **options), {
        **config, "data": os.path.abspath(args.data), "size": size if size is not None else list(sizes.pop()),
        "image_size": None if size is None else list((size, size) if isinstance(size, int) else size)}, (train, val)


def _folders(args):
    """(train folder, val folder or None) of --data / --val-data."""
    from .data.folders import FOLDERS
    if args.task not in FOLDERS:
        raise UsageError(f"minidense train: --data works with --task {', '.join(FOLDERS)}, not {args.task}")
    kw = {"scale": args.depth_scale} if args.task == "depth" else {}
    train = FOLDERS[args.task](args.data, split=args.split, size=args.size, **kw)
    if not (args.val_data or args.val_split):
        return train, None
    if args.task == "segmentation":
        kw["num_classes"] = train.num_classes
    return train, FOLDERS[args.task](args.val_data or args.data, split=args.val_split, size=args.size, **kw)


def _show_size(size):
    return str(size) if isinstance(size, int) else "x".join(map(str, size))


def _load_run(path, device):
    """(model, task, config) rebuilt from a checkpoint alone (see ``checkpoint.load_model``)."""
    return checkpoint.load_model(path, device)


def cmd_eval(args):
    from .train import evaluate
    device = _device(args.device)
    model, task, config = _load_run(args.checkpoint, device)
    if args.data:
        data = _eval_folder(args, task, config)
        sizes = set(data.image_sizes)
        scores = evaluate(model, task, data, batch_size=8 if len(sizes) == 1 or data.size else 1, device=device)
    else:
        if args.split:
            raise UsageError("minidense eval: --split goes with --data")
        if config.get("data"):
            raise UsageError(f"minidense eval: this checkpoint was trained on the folder {config['data']}; give "
                             f"--data DIR to evaluate it on a folder of the same kind")
        size = config.get("size", 64)
        data = task.dataset(args.n, size=tuple(size) if isinstance(size, list) else size,
                            seed=config.get("seed", 0) + 2 * VAL_SEED_OFFSET)
        scores = evaluate(model, task, data, device=device)
    print(json.dumps({k: round(float(v), 4) for k, v in scores.items() if np.isscalar(v)}))


def _eval_folder(args, task, config):
    """The --data folder read as training read its own: resized to the training size when it was resized."""
    from .data.folders import FOLDERS
    if task.name not in FOLDERS:
        raise UsageError(f"minidense eval: --data works with checkpoints of {', '.join(FOLDERS)}, not {task.name}")
    kw = {"num_classes": task.num_classes} if task.name == "segmentation" else {}
    if task.name == "depth":
        kw["scale"] = config.get("depth_scale", 1e-3)
    size = config.get("image_size")
    return FOLDERS[task.name](args.data, split=args.split, size=tuple(size) if size else None, **kw)


def cmd_predict(args):
    from .data.folders import IMAGE_EXTENSIONS
    from .inference import predict_file, write_prediction
    device = _device(args.device)
    model, task, config = _load_run(args.checkpoint, device)
    if os.path.isdir(args.input):
        names = sorted(n for n in os.listdir(args.input) if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS)
        if not names:
            raise UsageError(f"minidense predict: no images ({', '.join(IMAGE_EXTENSIONS)}) in {args.input!r}")
        os.makedirs(args.out, exist_ok=True)
        jobs = [(os.path.join(args.input, n), os.path.join(args.out, os.path.splitext(n)[0] + ".png")) for n in names]
    elif os.path.isfile(args.input):
        jobs = [(args.input, args.out)]
    else:
        raise UsageError(f"minidense predict: input file {args.input!r} does not exist")
    for source, target in jobs:
        try:
            answer = predict_file(model, task, config, source, device)
        except ValueError as exc:
            raise UsageError(f"minidense predict: {exc}") from None
        write_prediction(target, answer, task, config)
    where = args.out if len(jobs) > 1 or os.path.isdir(args.input) else jobs[0][1]
    print(f"{len(jobs)} prediction{'s' * (len(jobs) > 1)} written to {os.path.abspath(where)}")


def cmd_export(args):
    model, task, config = _load_run(args.checkpoint, "cpu")
    size = args.size if args.size is not None else config.get("image_size") or config.get("size", 64)
    h, w = (size, size) if isinstance(size, int) else size
    from .export import to_onnx
    to_onnx(model, args.out, (1, task.in_channels, h, w))   # without the export extra: MissingExtra, one line
    print(f"ONNX model written to {os.path.abspath(args.out)}")


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
        for i, spec in enumerate(assignments.COURSE, 1):   # the course order: a kit stubs every later one
            print(f"{i}. {spec.name:16s} {spec.title}")
    elif args.action == "make":
        if args.name not in assignments.ASSIGNMENTS:
            raise UsageError(f"minidense assignment make: unknown assignment {args.name!r}; choose one of "
                             f"{', '.join(assignments.ASSIGNMENTS)}")
        path = assignments.make_kit(args.name, args.out, carry=args.carry or ())
        print(f"kit written to {os.path.abspath(path)}")
    elif args.action in ("grade", "gradescope"):
        if args.name not in assignments.ASSIGNMENTS:
            raise UsageError(f"minidense assignment {args.action}: unknown assignment {args.name!r}; choose one of "
                             f"{', '.join(assignments.ASSIGNMENTS)}")
        if args.action == "grade":
            from .assignments.grade import grade
            grade(args.name, args.submissions, args.out, args.seed, jobs=args.jobs, timeout=args.timeout,
                  memory_gb=args.memory, namespaces=not args.no_namespaces,
                  require_isolation=args.require_isolation, resume=args.resume, only=args.only)
            print(f"gradebook written to {os.path.join(os.path.abspath(args.out), 'gradebook.csv')}")
        else:
            from .assignments.gradescope import WHEEL_PYTHONS, build_bundle
            if not args.wheels and (args.python_versions or args.wheel_cache):
                raise UsageError("minidense assignment gradescope: --python-version and --wheel-cache go with "
                                 "--wheels")
            try:
                path = build_bundle(args.name, args.out, args.seed, timeout=args.timeout, memory_gb=args.memory,
                                    wheels=args.wheels, python_versions=args.python_versions or WHEEL_PYTHONS,
                                    wheel_cache=args.wheel_cache)
            except RuntimeError as exc:   # pip download failed: its message says why
                raise UsageError(f"minidense assignment gradescope: {exc}") from None
            how = "wheels inside: installs with no index" if args.wheels else "installs from PyPI"
            print(f"Gradescope autograder written to {os.path.abspath(path)} "
                  f"({os.path.getsize(path) / 1e6:.1f} MB; {how})")
    else:
        raise UsageError("minidense assignment: choose an action: list, make, grade or gradescope "
                         "(see minidense assignment --help)")


def _device(name):
    try:
        return backend.check_device(name)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UsageError(f"minidense: {exc}") from None


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "export": cmd_export, "info": cmd_info,
            "assignment": cmd_assignment}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("minidense: choose a command: train, eval, predict, export, info or assignment "
                             "(see minidense --help)")
        _malloc.tune_memory()   # the command's process is minidense's own (MINIDENSE_MALLOC=system: left alone)
        COMMANDS[args.command](args)
    except (UsageError, MissingExtra) as exc:   # MissingExtra: "... needs X: pip install 'minidense[EXTRA]'"
        if debug:
            raise
        print(str(exc) if isinstance(exc, UsageError) else f"minidense: {exc}", file=sys.stderr)
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
