"""Assignment 5: a U-Net with skips, trained on the built-in scenes, and the skip ablation."""
import numpy as np

from ...cases import course_weights, held_out_scenes, hinted, normal
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

#: the training parts, every hyper-parameter pinned (the harness passes each one to the model, the optimizer
#: and ``fit``); the grader draws the training seed and the held-out scenes from (term seed, student id).
#: Measured with the reference code (docs/assignments.md, "### 5. unet"): REFERENCE_WORST_MIOU at the worst of
#: MIOU_SEEDS training seeds, REFERENCE_WORST_GAP at the worst of GAP_SEEDS; the targets sit the margins below.
REFERENCE_WORST_MIOU = 0.44
MIOU_MARGIN = 0.10
MIOU_SEEDS = 59
REFERENCE_WORST_GAP = 0.024   # seed 1232529536 (the reference graded at term seed 1234); the other 41: >= 0.069
GAP_MARGIN = 0.019
GAP_SEEDS = 42
TRAINING = {"in_channels": 3, "base_channels": 8, "depth": 3, "up": "transpose", "batch_norm": False,
            "optimizer": "Adam", "lr": 1e-2, "schedule": "cosine", "augment": False, "epochs": 20, "batch_size": 4,
            "size": 16, "n_train": 256, "n_val": 32, "seed": 0, "boundary_width": 1,
            "target_miou": round(REFERENCE_WORST_MIOU - MIOU_MARGIN, 2),
            "min_gap": round(REFERENCE_WORST_GAP - GAP_MARGIN, 3)}

#: the keys of TRAINING that go into a training case's params as they are
_PINNED = ("in_channels", "base_channels", "depth", "up", "batch_norm", "optimizer", "lr", "schedule", "augment",
           "epochs", "batch_size", "size", "n_train")


def _unet_args(rng, depth, up, batch_norm, skips):
    """Every constructor argument of one UNet (small widths: the grader compares all of them)."""
    return {"in_channels": int(rng.integers(1, 4)), "out_channels": int(rng.integers(2, 6)),
            "base_channels": int(rng.integers(2, 5)), "depth": depth, "up": up, "batch_norm": batch_norm,
            "skips": skips}


def _unet_id(args, shape=None):
    parts = [f"depth{args['depth']}", args["up"], "skips" if args["skips"] else "noskips",
             "bn" if args["batch_norm"] else "", f"base{args['base_channels']}"]
    if shape is not None:
        parts.append(f"{shape[2]}x{shape[3]}")
    return "-".join(p for p in parts if p)


#: (depth, up, batch_norm, skips) of the cases; batch norm only up to depth 2 (a message holds <= 64 arrays)
_ARCHITECTURES = {True: [(3, "transpose", False, True), (2, "bilinear", True, False)],
                  False: [(1, "transpose", False, True), (2, "bilinear", True, True), (3, "transpose", False, False),
                          (4, "bilinear", False, True), (4, "transpose", False, True)]}
_FORWARDS = {True: [(3, "transpose", False, True), (2, "bilinear", True, False), (1, "transpose", False, True)],
             False: [(1, "transpose", False, True), (2, "transpose", True, True), (3, "transpose", False, True),
                     (3, "bilinear", False, False), (2, "transpose", False, False), (3, "bilinear", False, True)]}

#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "architecture": ("level i has base_channels * 2**i channels; ups and decoders are listed deepest first; a "
                     "decoder's double_conv takes 2 * c channels (copy + upsampled); store every constructor "
                     "argument as self.<name>",),
    "forward": ("the copy of each level is taken before its pooling and goes FIRST in the concatenation with the "
                "upsampled tensor; the head's output gets the output_bias buffer added",
                "F.concat([copy, upsampled], axis=1)"),
    "noskips": ("skips=False: zeros of the copy's shape in place of the copy (same parameters)",
                "creation.zeros_like(copy)"),
    "depth1": ("depth=1: one double conv and the head, no pooling",),
    "training": ("your forward matches the reference's, so check that the gradients reach every weight: a forward "
                 "computed on `.data` (or on a new Tensor made of it) cuts the graph",),
    "ablation": ("skips=True must concatenate the copies and skips=False zeros of their shape",),
}


def _architecture(rng, public):
    cases = []
    for depth, up, batch_norm, skips in _ARCHITECTURES[public]:
        args = _unet_args(rng, depth, up, batch_norm, skips)
        cases.append(hinted({"id": _unet_id(args), "fn": "unet_architecture", "params": {"args": args},
                             "inputs": {}}, HINTS, "architecture"))
    return cases


def _state(rng, args):
    """Random values for every entry of the reference UNet's state dict (the layout of the contract)."""
    from ....models import UNet  # the parent reads the shapes off the reference network
    state = {}
    for key, value in UNet(**args).state_dict().items():
        shape = tuple(value.shape)
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(int(rng.integers(0, 100)), dtype=np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, shape)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3] if not key.startswith("ups.") or key.endswith(".1.weight") \
                else shape[0]
            state[key] = normal(rng, shape, np.sqrt(2.0 / fan_in))
        else:   # biases, batch-norm weights and shifts, the output bias: all away from their initial values
            state[key] = normal(rng, shape, 0.5)
    return state


def _forward(rng, public):
    cases = []
    for depth, up, batch_norm, skips in _FORWARDS[public]:
        args = _unet_args(rng, depth, up, batch_norm, skips)
        m = 2 ** (depth - 1)
        low = -(-4 // m)   # at least 4 pixels a side
        shape = (int(rng.integers(1, 3)), args["in_channels"], m * int(rng.integers(low, low + 3)),
                 m * int(rng.integers(low, low + 3)))
        if depth > 1 and shape[2] == shape[3]:
            shape = (*shape[:3], shape[3] + m)   # never square: rows and columns must not be swapped
        keys = ("forward",) + (() if args["skips"] else ("noskips",)) + (("depth1",) if args["depth"] == 1 else ())
        cases.append(hinted({"id": _unet_id(args, shape), "fn": "unet_forward", "params": {"args": args},
                             "inputs": {"x": normal(rng, shape), **_state(rng, args)}, "rtol": 1e-6, "atol": 1e-8},
                            HINTS, *keys))
    return cases


def _held_out(rng, public):
    """The training seed and the held-out scenes of one training case (drawn by the parent)."""
    from ....data import scenes
    seed, val = held_out_scenes(rng, public, TRAINING)
    params = {k: TRAINING[k] for k in _PINNED}
    params.update(seed=seed, num_classes=scenes.NUM_CLASSES)
    inputs = {"images": val["image"].astype(np.float32), **course_weights(_trained_unet, seed)}
    return seed, params, inputs, {"labels": val["labels"]}


# ---- the training parts' prerequisites and initial weights (grading/harness.py loads them by name)
def _trained_args(skips):
    from ....data import scenes
    return {"in_channels": TRAINING["in_channels"], "out_channels": scenes.NUM_CLASSES,
            "base_channels": TRAINING["base_channels"], "depth": TRAINING["depth"], "up": TRAINING["up"],
            "batch_norm": TRAINING["batch_norm"], "skips": skips}


def _trained_unet():
    from ....models import UNet  # the course's reference network: its initial weights
    return UNet(**_trained_args(True))


def _prerequisites(rng, skips_options):
    """The forward cases of the trained architecture that a training part requires (with ``skips`` each of
    ``skips_options``): a network whose forward does not match the reference's is not trained."""
    cases = []
    for skips in skips_options:
        args = _trained_args(skips)
        shape = (1, args["in_channels"], 8, 12)
        keys = ("forward",) + (() if skips else ("noskips",))
        cases.append(hinted({"id": "trained-" + _unet_id(args, shape), "part": "forward", "fn": "unet_forward",
                             "params": {"args": args}, "inputs": {"x": normal(rng, shape), **_state(rng, args)},
                             "rtol": 1e-6, "atol": 1e-8}, HINTS, *keys))
    return cases


def _training(rng, public):
    """One case: the student's U-Net, trained in the child, labels the held-out scenes the parent made."""
    seed, params, inputs, expected = _held_out(rng, public)
    params["target_miou"] = TRAINING["target_miou"]
    return [hinted({"id": f"unet-seed{seed}", "fn": "train_unet", "check": "training_miou", "params": params,
                    "inputs": inputs, "expected": expected, "requires": _prerequisites(rng, (True,))},
                   HINTS, "training")]


def _ablation(rng, public):
    """One case: the same run with and without skips; the boundary accuracy must drop without them."""
    seed, params, inputs, expected = _held_out(rng, public)
    params.update(boundary_width=TRAINING["boundary_width"], min_gap=TRAINING["min_gap"])
    return [hinted({"id": f"skips-vs-noskips-seed{seed}", "fn": "unet_skip_ablation", "check": "skip_ablation",
                    "params": params, "inputs": inputs, "expected": expected,
                    "requires": _prerequisites(rng, (True, False))}, HINTS, "ablation")]


# ---- the planted mistakes: the reference's two functions, and what each mistake writes in their place
_CHECKS = """    super().__init__()
    self.in_channels = _checks.positive_int("UNet", "in_channels", in_channels)
    self.out_channels = _checks.positive_int("UNet", "out_channels", out_channels)
    self.base_channels = _checks.positive_int("UNet", "base_channels", base_channels)
    self.depth = _checks.positive_int("UNet", "depth", depth)
    self.up = _common.choice("UNet", "up", up, ("transpose", "bilinear"))
    self.batch_norm = _common.flag("UNet", "batch_norm", batch_norm)
"""
_INIT_DEF = """
def __init__(self, in_channels, out_channels, base_channels=16, depth=4, up="transpose", batch_norm=True,
             skips=True):
"""


def _student_init(levels="""
    widths = [self.base_channels * 2 ** i for i in range(self.depth)]
    self.downs = ModuleList()
    for i, c in enumerate(widths):
        self.downs.append(double_conv(self.in_channels if i == 0 else widths[i - 1], c, batch_norm))
    self.pool = MaxPool2d(2)
""", decoder="""
    self.ups = ModuleList()
    self.decoders = ModuleList()
    for i in reversed(range(1, self.depth)):
        c_deep, c = widths[i], widths[i - 1]
        if up == "transpose":
            self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
        else:
            self.ups.append(Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(c_deep, c, 1)))
        self.decoders.append(double_conv(2 * c, c, batch_norm))
""", skips="""    self.skips = _common.flag("UNet", "skips", skips)
"""):
    """UNet.__init__ as a student writes it: the reference's, with the levels, the decoder or the storing of
    ``skips`` written otherwise."""
    return (_INIT_DEF + _CHECKS + skips + levels + decoder + """    self.head = Conv2d(widths[0], self.out_channels, 1)
    self.register_buffer("output_bias", output_bias(self.out_channels))
""")


def _student_forward(encoder="""
    copies = []
    for i, block in enumerate(self.downs):
        x = block(x)
        if i < self.depth - 1:
            copies.append(x)
            x = self.pool(x)
""", decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        bridge = copy if self.skips else creation.zeros_like(copy)
        x = decoder(F.concat([bridge, x], axis=1))
""", ret="""    return add_output_bias(self.head(x), self.output_bias)
"""):
    """UNet.forward as a student writes it: the reference's, with the encoder, the decoder or the return
    written otherwise."""
    return ("""
def forward(self, x):
    _common.images("UNet", x, self.in_channels, self.size_multiple, f"{self.depth - 1} poolings by 2")
""" + encoder + decoder + ret)


_ALL = {"architecture", "forward", "training", "ablation"}

#: the planted mistakes: each loses points in exactly the parts it names, public and hidden (see specs.Mistake;
#: a network whose forward differs from the reference's on the trained architecture fails the training parts'
#: prerequisites, so it loses those too)
MISTAKES = (
    Mistake("the copy concatenated after the upsampled tensor instead of before it",
            loses={"forward", "training", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        bridge = copy if self.skips else creation.zeros_like(copy)
        x = decoder(F.concat([x, bridge], axis=1))
""")),)),
    Mistake("skips=False ignored: the copies always reach the decoder",
            loses={"forward", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        x = decoder(F.concat([copy, x], axis=1))
""")),)),
    Mistake("the channels grow by base_channels per level instead of doubling",
            loses=_ALL,
            replace=(("models/unet.py", "UNet.__init__", _student_init(levels="""
    widths = [self.base_channels * (i + 1) for i in range(self.depth)]
    self.downs = ModuleList()
    for i, c in enumerate(widths):
        self.downs.append(double_conv(self.in_channels if i == 0 else widths[i - 1], c, batch_norm))
    self.pool = MaxPool2d(2)
""")),)),
    Mistake("the output bias buffer never added to the head's output",
            loses={"forward", "training", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(ret="""    return self.head(x)
""")),)),
    Mistake("a trivial network: two 3x3 convolutions and the head (no pooling, no decoder)",
            loses=_ALL,
            replace=(("models/unet.py", "UNet.__init__", _INIT_DEF + _CHECKS + """    self.skips = skips
    self.downs = ModuleList([double_conv(self.in_channels, self.base_channels, batch_norm)])
    self.head = Conv2d(self.base_channels, self.out_channels, 1)
    self.register_buffer("output_bias", output_bias(self.out_channels))
"""),
                     ("models/unet.py", "UNet.forward", """
def forward(self, x):
    return add_output_bias(self.head(self.downs[0](x)), self.output_bias)
"""))),
    Mistake("the ablation cheat: skips=False zeros the upsampled features and keeps the copies",
            loses={"forward", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        if not self.skips:
            x = creation.zeros_like(x)
        x = decoder(F.concat([copy, x], axis=1))
""")),)),
    Mistake("a float64 output from float32 input: the output bias cast to float64 before it is added",
            loses={"forward"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(ret="""
    return add_output_bias(self.head(x), self.output_bias.astype("float64"))
""")),)),
    Mistake("the input changed in place: each image's mean subtracted from x's data (a 'normalisation')",
            loses={"forward", "training", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(encoder="""
    x.data -= x.data.mean(axis=(2, 3), keepdims=True)
    copies = []
    for i, block in enumerate(self.downs):
        x = block(x)
        if i < self.depth - 1:
            copies.append(x)
            x = self.pool(x)
""")),)),
    Mistake("a detached forward: the head computes on a new Tensor made of the decoder's .data (right values, no "
            "gradient reaches the layers before the head)",
            loses={"training", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(ret="""    x = creation.tensor(x.data)
    return add_output_bias(self.head(x), self.output_bias)
""")),)),
    Mistake("the copy taken after the pooling instead of before it",
            loses={"forward", "training", "ablation"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(encoder="""
    copies = []
    for i, block in enumerate(self.downs):
        x = block(x)
        if i < self.depth - 1:
            x = self.pool(x)
            copies.append(x)
""")),)),
    Mistake("ups and decoders built shallowest first (the forward walks them backwards): the state dict's names "
            "are not the contract's",
            loses=_ALL,
            replace=(("models/unet.py", "UNet.__init__", _student_init(decoder="""
    self.ups = ModuleList()
    self.decoders = ModuleList()
    for i in range(1, self.depth):
        c_deep, c = widths[i], widths[i - 1]
        if up == "transpose":
            self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
        else:
            self.ups.append(Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(c_deep, c, 1)))
        self.decoders.append(double_conv(2 * c, c, batch_norm))
""")),
                     ("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(reversed(self.ups), reversed(self.decoders), reversed(copies)):
        x = up(x)
        bridge = copy if self.skips else creation.zeros_like(copy)
        x = decoder(F.concat([bridge, x], axis=1))
""")))),
    Mistake("bilinear up-sampling without the 1x1 convolution (the decoder takes c + 2c channels)",
            loses={"architecture", "forward"},
            replace=(("models/unet.py", "UNet.__init__", _student_init(decoder="""
    self.ups = ModuleList()
    self.decoders = ModuleList()
    for i in reversed(range(1, self.depth)):
        c_deep, c = widths[i], widths[i - 1]
        if up == "transpose":
            self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
            self.decoders.append(double_conv(2 * c, c, batch_norm))
        else:
            self.ups.append(Upsample(scale_factor=2, mode="bilinear"))
            self.decoders.append(double_conv(c + c_deep, c, batch_norm))
""")),)),
    Mistake("batch_norm passed to the encoder's blocks only: the decoders never have batch norm",
            loses={"architecture", "forward"},
            replace=(("models/unet.py", "UNet.__init__", _student_init(decoder="""
    self.ups = ModuleList()
    self.decoders = ModuleList()
    for i in reversed(range(1, self.depth)):
        c_deep, c = widths[i], widths[i - 1]
        if up == "transpose":
            self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
        else:
            self.ups.append(Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(c_deep, c, 1)))
        self.decoders.append(double_conv(2 * c, c))
""")),)),
    Mistake("depth=1 special-cased: the shortcut returns the head's output without the output bias",
            loses={"forward"},
            replace=(("models/unet.py", "UNet.forward", _student_forward(encoder="""
    if self.depth == 1:
        return self.head(self.downs[0](x))
    copies = []
    for i, block in enumerate(self.downs):
        x = block(x)
        if i < self.depth - 1:
            copies.append(x)
            x = self.pool(x)
""")),)),
    Mistake("the skips argument stored as self.use_skips, not self.skips",
            loses={"architecture"},
            replace=(("models/unet.py", "UNet.__init__", _student_init(skips="""
    self.use_skips = _common.flag("UNet", "skips", skips)
""")),
                     ("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        bridge = copy if self.use_skips else creation.zeros_like(copy)
        x = decoder(F.concat([bridge, x], axis=1))
""")))),
    Mistake("skips=False drops the concatenation and its channels: the decoders take c channels, not 2c (other "
            "parameters than the network with skips)",
            loses={"architecture", "forward", "ablation"},
            replace=(("models/unet.py", "UNet.__init__", _student_init(decoder="""
    self.ups = ModuleList()
    self.decoders = ModuleList()
    for i in reversed(range(1, self.depth)):
        c_deep, c = widths[i], widths[i - 1]
        if up == "transpose":
            self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
        else:
            self.ups.append(Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(c_deep, c, 1)))
        self.decoders.append(double_conv(2 * c if self.skips else c, c, batch_norm))
""")),
                     ("models/unet.py", "UNet.forward", _student_forward(decoder="""
    for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
        x = up(x)
        x = decoder(F.concat([copy, x], axis=1) if self.skips else x)
""")))),
)


# ---- automatic mutants (mutants.py) that compute what the reference computes, {key: why}
#: a check's first two arguments only word its error message
_MESSAGE_ONLY = ("the check's first two arguments (the class's name, the argument's name) only word its error "
                 "message: a valid argument passes and is returned as it is either way")
#: the f-string of the input check's ``why``
_WHY_ONLY = ("only the number of poolings that the input check's error message names changes; what it checks "
             "(size_multiple) is the same, and a valid input passes it either way")


EQUIVALENT_MUTANTS = {
    "UNet.__init__:4: …= _checks.positive_int('UNet', 'in_channels', in_channels) -> "
    "…= _checks.positive_int('in_channels', 'UNet', in_channels)": _MESSAGE_ONLY,
    "UNet.__init__:5: …= _checks.positive_int('UNet', 'out_channels', out_channels) -> "
    "…= _checks.positive_int('out_channels', 'UNet', out_channels)": _MESSAGE_ONLY,
    "UNet.__init__:6: …= _checks.positive_int('UNet', 'base_channels', base_channels) -> "
    "…= _checks.positive_int('base_channels', 'UNet', base_channels)": _MESSAGE_ONLY,
    "UNet.__init__:7: self.depth = _checks.positive_int('UNet', 'depth', depth) -> "
    "self.depth = _checks.positive_int('depth', 'UNet', depth)": _MESSAGE_ONLY,
    "UNet.__init__:8: …lf.up = _common.choice('UNet', 'up', up, ('transpose', 'bi… -> "
    "…lf.up = _common.choice('up', 'UNet', up, ('transpose', 'bi…": _MESSAGE_ONLY,
    "UNet.__init__:9: self.batch_norm = _common.flag('UNet', 'batch_norm', batch_norm) -> "
    "self.batch_norm = _common.flag('batch_norm', 'UNet', batch_norm)": _MESSAGE_ONLY,
    "UNet.__init__:10: self.skips = _common.flag('UNet', 'skips', skips) -> "
    "self.skips = _common.flag('skips', 'UNet', skips)": _MESSAGE_ONLY,
    "UNet.forward:3: _common.images('UNet', x, self.in_channels, self.size_multiple, f'{self.depth - 1} poolings "
    "by 2') -> pass": "the input check raises on an invalid input only: on every input the contract admits it "
                     "returns None and changes nothing",
    "UNet.forward:3: …multiple, f'{self.depth - 1} poolings by 2') -> …multiple, f'{self.depth + 1} poolings "
    "by 2')": _WHY_ONLY,
    "UNet.forward:3: …ltiple, f'{self.depth - 1} poolings by 2') -> …ltiple, f'{self.depth - 2} poolings "
    "by 2')": _WHY_ONLY,
    "UNet.forward:3: …ltiple, f'{self.depth - 1} poolings by 2') -> …ltiple, f'{self.depth - 0} poolings "
    "by 2')": _WHY_ONLY,
}


SPEC = Assignment(
    name="unet",
    title="Assignment 5: a U-Net with skips, trained, and the skip ablation",
    stubs={"models/unet.py": ["UNet.__init__", "UNet.forward"]},
    reveal={"models/encoder_decoder.py": ["EncoderDecoder.__init__", "EncoderDecoder.forward"]},
    parts=(Part("architecture", 20, "UNet's constructor: state-dict keys and shapes, parameter count, stored "
                                    "arguments (depth 1-4, both up-samplings, batch norm, skips off)",
                cases=_architecture),
           Part("forward", 30, "UNet's output with the course's weights loaded (skips on and off, bilinear, "
                               "batch norm, depth 1-3, non-square inputs)", builds_on=("architecture",),
                cases=_forward),
           Part("training", 30, f"the pinned U-Net trained on the scenes reaches mean IoU >= "
                                f"{TRAINING['target_miou']} on held-out scenes",
                builds_on=("architecture", "forward"), cases=_training),
           Part("ablation", 20, f"trained with and without skips: the boundary accuracy with skips is higher by "
                                f">= {TRAINING['min_gap']}", builds_on=("architecture", "forward"), cases=_ablation)),
    handout=read_handout(__file__, **TRAINING, worst_miou=REFERENCE_WORST_MIOU, miou_margin=MIOU_MARGIN,
                         miou_seeds=MIOU_SEEDS, worst_gap=REFERENCE_WORST_GAP, gap_margin=GAP_MARGIN,
                         gap_seeds=GAP_SEEDS),
    target=("models/unet.py", "UNet.forward"),
    mistakes=MISTAKES,
    equivalent_mutants=EQUIVALENT_MUTANTS,
    training=TRAINING,
    starter=read_starter(__file__),
    questions=(
        "Why do the skips help most at object boundaries? Where in the network is the information about a "
        "boundary's exact position, and what happens to it at each max-pooling (slides \"Missing Details\")?",
        "What is the receptive field of one pixel of the bottleneck of `UNet(3, 5, depth=3)` (read it off "
        "`md.nn.summary`), and how many stacked 3×3 convolutions without pooling would reach it (slide "
        "\"Why Not Stack Convolutions?\": 2n + 1)? Does a pixel of the output see more or less than that?",
        "What does the ablation show, and what does it not? The network without skips has the same parameters, "
        "but some of them never learn: which ones, and is the comparison fair?",
    ),
)
