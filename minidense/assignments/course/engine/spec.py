"""Assignment 1: the autograd engine: the backward order without recursion, undoing broadcasting, and the
backward of a handful of core ops."""
import numpy as np

from ...cases import hinted, normal, shape_id
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

UNARY = ("tanh", "sigmoid", "neg", "square")

#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "order": ("four outputs check your `topological_order(root)` list (1 = holds): `order_holds_every_tensor` "
              "(every tensor that requires grad and that the root was computed from), `order_has_no_duplicates`, "
              "`order_starts_at_root`, `order_puts_each_after_its_users` (each tensor after ALL tensors that use "
              "it), `order_holds_only_tensors_that_require_grad`",),
    "chain": ("a chain: each op after the one that uses it",),
    "deep": ("a chain 10,000 ops deep must not recurse (Python stops at about 1,000 frames); and x, used by all "
             "5,000 additions, must come after every one of them",
             "keep your own stack of tensors still to visit"),
    "constant": ("a tensor that does not require grad (here the leaf x1) has no place in the order, nor "
                 "does anything computed from constants only: follow only the parents that require grad",),
    "twice": ("a tensor used twice appears ONCE in the order, after both of its users: the engine adds their "
              "gradients before it passes the sum on",),
    "paths": ("the engine pops a tensor's gradient when it visits it; one visited before ALL of its users has not "
              "received all their gradients yet, and the late ones are lost",),
    "long-path": ("the engine pops a tensor's gradient when it visits it; one visited before ALL of its users has "
                  "not received all their gradients yet, and the late ones are lost (here: the tensor where the "
                  "long and the short path meet must wait for the long one: an order that places a tensor when it "
                  "is first reached puts it too early)",),
    "unbroadcast": ("NumPy broadcasts an operand by (1) prepending axes until it has as many as the result and "
                    "(2) stretching its axes of size 1 (also to size 0, an empty batch); the gradient sums over "
                    "exactly those axes (and stays unchanged when the shapes are equal), and the result has exactly "
                    "the operand's shape",),
    "mul": ("d(a·b)/da = b, d(a·b)/db = a",),
    "mul-needs": ("only a requires a gradient here (`self.needs_input_grad`); b's may be None",),
    "div": ("d(a/b)/da = 1/b, d(a/b)/db = -a/b² (mind the sign)",),
    "matmul": ("the gradient of a @ b is grad times b transposed for a, a transposed times grad for b, where the "
               "transpose swaps the LAST TWO axes; a 1-D operand gets its missing axis back, then loses it again",
               "grad @ xp.swapaxes(b, -1, -2) and xp.swapaxes(a, -1, -2) @ grad (b.T reverses all axes)"),
    "sum": ("every input element of a reduced slice gets the slice's gradient; without keepdims the reduced axes "
            "must be put back (size 1) before broadcasting",),
    "mean": ("every input element of a reduced slice gets the slice's gradient divided by the slice's size; "
             "without keepdims the reduced axes must be put back (size 1) before broadcasting",),
    "exp": ("d exp(x)/dx = exp(x), which forward kept",),
    "log": ("d log(x)/dx = 1/x",),
    "relu": ("the gradient passes where x > 0 (the mask forward kept), 0 elsewhere, also at x = 0",),
    "broadcast-shape": ("return each gradient in the broadcast (output's) shape, not summed back: the engine's "
                        "unbroadcast does that after your backward",),
    "kept": ("(only if `grad_unchanged` is off: your backward changed `grad` in place)",),
    "end_to_end": ("this part runs the whole engine: check first that topological_order, unbroadcast and "
                   "op_backward pass; the gradient of a bias added to every row is the SUM over the rows",),
}


def _graph_case(rng, name, leaves, program, hint, constants=()):
    """A graph of the given ops; ``hint``: the key in HINTS of what the graph tests; the leaves numbered in
    ``constants`` do not require grad."""
    shape = tuple(int(n) for n in rng.integers(1, 4, 2))
    inputs = {f"x{i}": normal(rng, shape) for i in range(leaves)}
    inputs["grad"] = normal(rng, shape)
    params = {"leaves": leaves, "program": program, **({"constants": list(constants)} if constants else {})}
    return hinted({"id": name, "fn": "graph_backward", "params": params, "inputs": inputs}, HINTS, hint, "order")


def _with_constant(rng):
    """x0 -> tanh -> (+ x1) -> sigmoid -> (- x1) -> square, with x1 a constant (it requires no grad)."""
    return _graph_case(rng, "with-a-constant", 2, [["tanh", 0], ["add", 2, 1], ["sigmoid", 3], ["sub", 4, 1],
                                                   ["square", 5]], "constant", constants=(1,))


def _chain(rng, depth):
    program = [[str(rng.choice(UNARY)), 0]]
    program += [[str(rng.choice(UNARY)), k] for k in range(1, depth)]
    return program


def _deep_chain(depth):
    """x0 -> tanh(x0 + x1) -> tanh(. + x1) ... : `depth` ops in a row, the bias x1 used depth/2 times."""
    program = []
    for k in range(depth // 2):
        program += [["add", 0 if k == 0 else 2 * k, 1], ["tanh", 2 * k + 2]]
    return program


def _diamond():
    # x0 -> a = tanh, b = sigmoid -> c = a - b -> d = c², then e = tanh(d), f = -d -> e + f
    return [["tanh", 0], ["sigmoid", 0], ["sub", 1, 2], ["square", 3], ["tanh", 4], ["neg", 4], ["add", 5, 6]]


def _used_twice():
    # a + a: one op uses a tensor twice; x0 is used again at the end (a long and a short path from it)
    return [["tanh", 0], ["add", 1, 1], ["sigmoid", 2], ["sub", 3, 0], ["square", 4]]


def _long_and_short_path(rng, length):
    # a = tanh(x0); a long chain from a; the root adds a again: a must wait for the end of the long chain
    program = [["tanh", 0]]
    program += [[str(rng.choice(UNARY)), 1 + k] for k in range(length)]
    program.append(["add", 1 + length, 1])
    return program


def _random_dag(rng, leaves, size):
    """`size` ops, each on random earlier nodes (recent ones more often); every node feeds the root."""
    program, unused = [], set(range(leaves))
    for k in range(size):
        n = leaves + k
        pick = [max(0, n - int(rng.geometric(0.4))) for _ in range(2)]
        if rng.random() < 0.5:
            program.append([str(rng.choice(UNARY)), pick[0]])
        else:
            program.append([str(rng.choice(["add", "sub"])), pick[0], pick[1]])
        unused -= set(program[-1][1:])
        unused.add(n)
    last = leaves + len(program) - 1
    for i in sorted(unused - {last}):   # everything left over joins the root
        program.append(["add", last, i])
        last = leaves + len(program) - 1
    return program


def _topological(rng, public):
    deep = 10_000 if public else int(rng.integers(5_000, 6_001)) * 2
    cases = [_graph_case(rng, "chain-depth5", 1, _chain(rng, 5), "chain"),
             _graph_case(rng, "diamond", 1, _diamond(), "twice"),
             _graph_case(rng, "used-twice", 1, _used_twice(), "twice"),
             _graph_case(rng, "long-and-short-path", 1, _long_and_short_path(rng, 6 if public else 9), "long-path"),
             _graph_case(rng, f"chain-depth{deep}", 2, _deep_chain(deep), "deep")]
    cases.append(_with_constant(rng))
    for _ in range(1 if public else 3):
        size = int(rng.integers(8, 16))
        leaves = int(rng.integers(2, 4))
        cases.append(_graph_case(rng, f"random-dag-{size}ops", leaves, _random_dag(rng, leaves, size), "paths"))
    return cases


def _broadcast_shapes(rng, kind):
    """(operand shape, broadcast shape) of one kind: prepended axes, stretched axes, both, equal, a scalar."""
    out = [int(n) for n in rng.integers(2, 5, int(rng.integers(2, 5)))]
    if kind == "same":
        return tuple(out), tuple(out)
    if kind == "scalar":
        return (), tuple(out)
    drop = int(rng.integers(1, len(out))) if kind in ("prepended", "both") else 0
    shape = out[drop:]
    if kind in ("stretched", "both"):
        for i in rng.choice(len(shape), int(rng.integers(1, len(shape) + 1)) if kind == "stretched" else 1,
                            replace=False):
            shape[int(i)] = 1
        if kind == "stretched" and all(n == 1 for n in shape) and len(shape) > 1:
            shape[-1] = out[-1]
    if kind == "kept-one":   # the first axis stretched; the last of size 1 in both: nothing to sum there
        out[-1] = 1
        shape = [1] + out[1:]
    if kind == "prepended-one":   # a prepended axis of size 1, then a stretched last axis
        out, shape = [1, out[0], out[-1]], [out[0], 1]
    if kind == "empty":   # an empty batch: an axis of size 1 stretched to size 0 sums to zeros
        out[0], shape = 0, [1] + out[1:]
    return tuple(shape), tuple(out)


def _unbroadcast(rng, public):
    kinds = ("stretched", "prepended", "both", "same", "scalar") if public else \
        ("stretched", "prepended", "both", "both", "same", "scalar", "kept-one", "prepended-one", "empty")
    cases = []
    for kind in kinds:
        shape, out = _broadcast_shapes(rng, kind)
        cases.append(hinted({"id": f"broadcast-{shape_id(shape)}-to-{shape_id(out)}", "fn": "unbroadcast",
                             "params": {"shape": list(shape)}, "inputs": {"grad": normal(rng, out)}},
                            HINTS, "unbroadcast"))
    return cases


def _op_case(name, op, inputs, hint, **params):
    """A case of one op's backward; ``hint``: its key in HINTS."""
    shape_hint = ("broadcast-shape",) if op in ("mul", "div", "matmul") else ()
    return hinted({"id": name, "fn": "op_backward", "params": {"op": op, **params}, "inputs": inputs},
                  HINTS, hint, *shape_hint, "kept")


def _binary(rng, op, kind):
    """Inputs of a broadcasting binary op: `row` (b is (m,)), `column` (b is (n, 1)), `same`."""
    n, m = (int(v) for v in rng.integers(2, 5, 2))
    a = normal(rng, (int(rng.integers(2, 4)), n, m) if kind == "row" else (n, m))
    b = normal(rng, {"row": (m,), "column": (n, 1), "same": (n, m)}[kind])
    if op == "div":   # keep |b| away from 0
        b = np.sign(b) * (0.5 + np.abs(b))
    out = np.broadcast_shapes(a.shape, b.shape)
    return {"a": a, "b": b, "grad": normal(rng, out)}, f"{shape_id(a.shape)}-{shape_id(b.shape)}"


def _matmul(rng, kind):
    n, k, m, batch = (int(v) for v in rng.integers(2, 5, 4))
    a_shape, b_shape = {"matrix": ((n, k), (k, m)), "batched": ((batch, n, k), (batch, k, m)),
                        "broadcast": ((batch, n, k), (k, m)), "vector": ((k,), (k, m)),
                        "matrix-vector": ((n, k), (k,))}[kind]
    a, b = normal(rng, a_shape), normal(rng, b_shape)
    return {"a": a, "b": b, "grad": normal(rng, np.matmul(a, b).shape)}, \
        f"{shape_id(a_shape)}-{shape_id(b_shape)}"


def _reduction(rng, op, kind):
    shape = tuple(int(v) for v in rng.integers(2, 5, 3))
    axis = {"all": None, "axis1": 1, "axis0-keepdims": 0, "axes02": [0, 2], "last": -1}[kind]
    keepdims = kind.endswith("keepdims") or (kind == "all" and bool(rng.integers(0, 2)))
    x = normal(rng, shape)
    out = np.sum(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    name = f"{op}-{kind}{'-keepdims' if keepdims and not kind.endswith('keepdims') else ''}-{shape_id(shape)}"
    return name, {"a": x, "grad": normal(rng, np.shape(out))}, {"axis": axis, "keepdims": keepdims}


def _op_backward(rng, public):
    cases = []
    mul_kinds = ("row", "same") if public else ("row", "column")
    for kind in mul_kinds:
        inputs, shapes = _binary(rng, "mul", kind)
        cases.append(_op_case(f"mul-broadcast-{kind}-{shapes}" if kind != "same" else f"mul-{shapes}", "mul",
                              inputs, "mul"))
    inputs, shapes = _binary(rng, "mul", "column")
    cases.append(_op_case(f"mul-b-needs-no-grad-{shapes}", "mul", inputs,
                          "mul-needs", needs=[True, False]))
    for kind in ("column",) if public else ("column", "row"):
        inputs, shapes = _binary(rng, "div", kind)
        cases.append(_op_case(f"div-broadcast-{kind}-{shapes}", "div", inputs, "div"))
    for kind in ("matrix", "broadcast", "vector") if public else \
            ("matrix", "batched", "broadcast", "vector", "matrix-vector"):
        inputs, shapes = _matmul(rng, kind)
        cases.append(_op_case(f"matmul-{kind}-{shapes}", "matmul", inputs, "matmul"))
    for op, kinds in (("sum", ("axis1", "all") if public else ("axis1", "all", "axes02", "last")),
                      ("mean", ("axis0-keepdims",) if public else ("axis0-keepdims", "axis1", "all"))):
        for kind in kinds:
            name, inputs, params = _reduction(rng, op, kind)
            cases.append(_op_case(name, op, inputs, op, **params))
    shape = tuple(int(v) for v in rng.integers(2, 5, 2))
    x = normal(rng, shape)
    x.flat[0] = 0.0    # relu at 0: gradient 0 (the mask x > 0)
    for op, data in (("exp", x), ("log", np.abs(x) + 0.5), ("relu", x)):
        cases.append(_op_case(f"{op}-{shape_id(shape)}", op, {"a": data, "grad": normal(rng, shape)}, op))
    return cases


def _end_to_end(rng, public):
    cases = []
    for loss in ("cross_entropy", "squared"):
        n, d, h, c = int(rng.integers(2, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
        onehot = np.eye(c)[rng.integers(0, c, n)]
        inputs = {"x": normal(rng, (n, d)), "w1": normal(rng, (d, h)), "b1": normal(rng, h),
                  "w2": normal(rng, (h, c)), "b2": normal(rng, c),
                  "target": onehot if loss == "cross_entropy" else normal(rng, (n, c))}
        cases.append(hinted({"id": f"mlp-{loss.replace('_', '-')}-N{n}-D{d}-H{h}-C{c}", "fn": "mlp_backward",
                             "params": {"loss": loss}, "inputs": inputs}, HINTS, "end_to_end"))
    for _ in range(1 if public else 2):
        n, m, k = (int(v) for v in rng.integers(2, 5, 3))
        b_shape = (1, m) if rng.integers(0, 2) else (m,)
        cases.append(hinted({"id": f"expression-a{n}x1-b{shape_id(b_shape)}-c{m}x{k}", "fn": "expression_backward",
                             "params": {}, "inputs": {"a": normal(rng, (n, 1)), "b": normal(rng, b_shape),
                                                      "c": normal(rng, (m, k))}}, HINTS, "end_to_end"))
    return cases


#: the planted mistakes: each must lose points in the parts it names (see specs.Mistake)
MISTAKES = (
    Mistake("a recursive depth-first search (fails on the chain 10,000 ops deep)",
            loses={"topological_order"},
            replace=(
                ("tensor.py", "topological_order", '''
def topological_order(root):
    order, visited = [], set()

    def visit(node):
        visited.add(id(node))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.requires_grad and id(parent) not in visited:
                    visit(parent)
        order.append(node)
    visit(root)
    return order[::-1]   # root first
'''),
            )),
    Mistake("unbroadcast sums over the prepended axes only, not over the stretched ones",
            loses={"unbroadcast"},
            replace=(
                ("tensor.py", "unbroadcast", '''
def unbroadcast(grad, shape):
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot belong to an input of shape {shape}")
    axes = tuple(range(extra))
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)
'''),
            )),
    Mistake("MatMul's gradient transposed with .T (all axes reversed) instead of the last two axes swapped",
            loses={"op_backward"},
            replace=(
                ("ops/arith.py", "MatMul.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    a, b = self.a, self.b
    # Give 1-D operands their implied axis back so one formula serves all cases.
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g = grad[..., None] if b.ndim == 1 else grad
    if a.ndim == 1:
        g = g[..., None, :]
    ga = g @ b2.T
    gb = a2.T @ g
    if a.ndim == 1:
        ga = ga[..., 0, :]
    if b.ndim == 1:
        gb = gb[..., :, 0]
    return ga, gb
'''),
            )),
    Mistake("Div's gradient for b with the wrong sign",
            loses={"op_backward"},
            replace=(
                ("ops/arith.py", "Div.backward", '''
def backward(self, grad):
    ga = grad / self.b
    return ga, ga * self.a / self.b
'''),
            )),
    Mistake("the reductions' gradient broadcast without putting the reduced axes back (keepdims=False)",
            loses={"op_backward"},
            replace=(
                ("ops/reduce.py", "_expand", '''
def _expand(grad, shape, axes, keepdims):
    return grad
'''),
            )),
    Mistake("a tensor appended when it is first reached (before all its users have been visited)",
            loses={"topological_order"},
            replace=(
                ("tensor.py", "topological_order", '''
def topological_order(root):
    order, visited = [], set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        order.append(node)
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append(parent)
    return order
'''),
            )),
    Mistake("unbroadcast takes the mean over the broadcast axes instead of the sum",
            loses={"unbroadcast"},
            replace=(
                ("tensor.py", "unbroadcast", '''
def unbroadcast(grad, shape):
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    grad = grad.mean(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)
'''),
            )),
    Mistake("Mul's backward returns a list [grad_a, grad_b] instead of a tuple",
            loses={"op_backward"},
            replace=(
                ("ops/arith.py", "Mul.backward", '''
def backward(self, grad):
    return [grad * self.b, grad * self.a]
'''),
            )),
    Mistake("MatMul's gradient of a 1-D operand keeps the axis added for the product (shape (1, k), not (k,))",
            loses={"op_backward"},
            replace=(
                ("ops/arith.py", "MatMul.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    a, b = self.a, self.b
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g = grad[..., None] if b.ndim == 1 else grad
    if a.ndim == 1:
        g = g[..., None, :]
    return g @ xp.swapaxes(b2, -1, -2), xp.swapaxes(a2, -1, -2) @ g
'''),
            )),
    Mistake("Mean's backward does not divide by the number of elements averaged (the Sum's gradient)",
            loses={"op_backward"},
            replace=(
                ("ops/reduce.py", "Mean.backward", '''
def backward(self, grad):
    g = _expand(grad, self.shape, self.axes, self.keepdims)
    return get_array_module(grad).broadcast_to(g, self.shape)
'''),
            )),
    Mistake("Log's gradient multiplied by x instead of divided by it",
            loses={"op_backward"},
            replace=(
                ("ops/elementwise.py", "Log.backward", '''
def backward(self, grad):
    return grad * self.x
'''),
            )),
    Mistake("ReLU's backward zeroes the upstream gradient in place (grad[x <= 0] = 0) and returns it",
            loses={"op_backward"},
            replace=(
                ("ops/elementwise.py", "ReLU.backward", '''
def backward(self, grad):
    grad[~self.mask] = 0
    return grad
'''),
            )),
)


#: mutants (mutants.py) that compute what the reference computes on every valid input, with the reason
EQUIVALENT_MUTANTS = {
    "topological_order:16: continue -> pass":
        "a node popped with children_done was visited before, so the next `if id(node) in visited: continue` "
        "skips it all the same",
    "unbroadcast:11: if grad.shape == tuple(shape): return grad -> pass":
        "with equal shapes no axis is summed and grad.reshape(shape) has grad's values (a view of grad)",
    "unbroadcast:12: return grad -> pass":
        "with equal shapes no axis is summed and grad.reshape(shape) has grad's values (a view of grad)",
    "unbroadcast:14: if extra < 0: raise RuntimeError(f'gradient of shape {grad.shape} cannot belong to an "
    "input of shape {shape}') -> pass":
        "only a shape that does not broadcast to grad.shape reaches the raise (the reshape fails there too)",
    "unbroadcast:15: raise RuntimeError(f'gradient of shape {grad.shape} cannot belong to an input of shape "
    "{shape}') -> pass":
        "only a shape that does not broadcast to grad.shape reaches the raise (the reshape fails there too)",
}


SPEC = Assignment(
    name="engine",
    title="Assignment 1: the autograd engine (backward order, unbroadcast, the core ops' backward)",
    stubs={"tensor.py": ["topological_order", "unbroadcast"],
           "ops/arith.py": ["Mul.backward", "Div.backward", "MatMul.backward"],
           "ops/reduce.py": ["_expand", "Sum.backward", "Mean.backward"],
           "ops/elementwise.py": ["Exp.backward", "Log.backward", "ReLU.backward"]},
    reveal={},
    parts=(Part("topological_order", 30, "backward visits every tensor after all its users: chains, diamonds, a "
                                         "tensor used twice, a long and a short path, a chain 10,000 ops deep, "
                                         "random graphs (gradients and the order itself)", cases=_topological),
           Part("unbroadcast", 20, "sums over prepended and stretched axes, equal shapes, a scalar; grad left "
                                   "unchanged", cases=_unbroadcast),
           Part("op_backward", 35, "the backward of Mul, Div, MatMul (batched, broadcast, 1-D), Sum and Mean "
                                   "(axes, keepdims), Exp, Log, ReLU, called directly", cases=_op_backward),
           Part("end_to_end", 15, "gradients of a two-layer perceptron's loss and of an expression with "
                                  "broadcasting, through the whole engine",
                builds_on=("topological_order", "unbroadcast", "op_backward"), cases=_end_to_end)),
    handout=read_handout(__file__),
    target=("tensor.py", "topological_order"),
    mistakes=MISTAKES,
    equivalent_mutants=EQUIVALENT_MUTANTS,
    starter=read_starter(__file__),
    questions=(
        "`topological_order` must not recurse. What happens to a recursive version on a chain 10,000 ops deep "
        "(a long unrolled recurrence, or a deep network's graph), and why is raising Python's recursion limit "
        "not a good fix?",
        "A tensor used by two ops gets the SUM of the two gradients. Explain why with the chain rule on "
        "`y = f(g(x), h(x))`, and say what the engine would compute for `x * x` if it overwrote instead of "
        "adding.",
        "Why does `unbroadcast` SUM over the broadcast axes (and not take the mean, or one copy)? Relate it to "
        "the bias `b` of `x @ W + b` and to the lecture's *loss computed/backprop'd at every pixel*: what is "
        "the gradient of a convolution's bias?",
        "The lecture's *Why 'Transpose Convolution'?* slides write convolution as a matrix product `C x`. "
        "What is the gradient of `C x` with respect to `x`, and how does that explain why transposed "
        "convolution is convolution's backward?",
    ),
)
