"""Assignment 1: the autograd engine: the backward order without recursion, undoing broadcasting, and the
backward of a handful of core ops."""
import ast
import os

import numpy as np

from .. import merge
from ..cases import normal
from ..specs import Assignment, Cell, Mistake, Part

PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _body(rel, qualname):
    """The library's text of a function's body after its docstring (a planted mistake replaces it whole)."""
    with open(os.path.join(PACKAGE, rel), encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    node = merge.functions(ast.parse("".join(lines)))[qualname]
    return "".join(lines[node.body[1 if merge.has_docstring(node) else 0].lineno - 1:node.end_lineno])


UNARY = ("tanh", "sigmoid", "neg", "square")

ORDER_HINT = ("four outputs check your `topological_order(root)` list (1 = holds): `order_holds_every_tensor` "
              "(every tensor that requires grad and that the root was computed from), `order_has_no_duplicates`, "
              "`order_starts_at_root`, `order_puts_each_after_its_users` (each tensor after ALL tensors that use "
              "it)")
DEEP_HINT = ("a chain 10,000 ops deep must not recurse (Python stops at about 1,000 frames): keep your own stack; "
             "and x, used by all 5,000 additions, must come after every one of them")
TWICE_HINT = ("a tensor used twice appears ONCE in the order, after both of its users: the engine adds their "
              "gradients before it passes the sum on")
PATHS_HINT = ("the engine pops a tensor's gradient when it visits it; one visited before ALL of its users has not "
              "received all their gradients yet, and the late ones are lost")
LONG_PATH_HINT = (PATHS_HINT + " (here: the tensor where the long and the short path meet must wait for the long "
                  "one: an order that places a tensor when it is first reached puts it too early)")


def _shape_id(shape):
    return "x".join(map(str, shape)) if shape else "scalar"


def _graph_case(rng, name, leaves, program, hint):
    shape = tuple(int(n) for n in rng.integers(1, 4, 2))
    inputs = {f"x{i}": normal(rng, shape) for i in range(leaves)}
    inputs["grad"] = normal(rng, shape)
    return {"id": name, "fn": "graph_backward", "params": {"leaves": leaves, "program": program},
            "inputs": inputs, "hint": f"{hint}. {ORDER_HINT}"}


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
    cases = [_graph_case(rng, "chain-depth5", 1, _chain(rng, 5), "a chain: each op after the one that uses it"),
             _graph_case(rng, "diamond", 1, _diamond(), TWICE_HINT),
             _graph_case(rng, "used-twice", 1, _used_twice(), TWICE_HINT),
             _graph_case(rng, "long-and-short-path", 1, _long_and_short_path(rng, 6 if public else 9), LONG_PATH_HINT),
             _graph_case(rng, f"chain-depth{deep}", 2, _deep_chain(deep), DEEP_HINT)]
    for _ in range(1 if public else 3):
        size = int(rng.integers(8, 16))
        leaves = int(rng.integers(2, 4))
        cases.append(_graph_case(rng, f"random-dag-{size}ops", leaves, _random_dag(rng, leaves, size), PATHS_HINT))
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
    return tuple(shape), tuple(out)


BROADCAST_HINT = ("NumPy broadcasts an operand by (1) prepending axes until it has as many as the result and "
                  "(2) stretching its axes of size 1; the gradient sums over exactly those axes (and stays "
                  "unchanged when the shapes are equal), and the result has exactly the operand's shape")


def _unbroadcast(rng, public):
    kinds = ("stretched", "prepended", "both", "same", "scalar") if public else \
        ("stretched", "prepended", "both", "both", "same", "scalar", "kept-one")
    cases = []
    for kind in kinds:
        shape, out = _broadcast_shapes(rng, kind)
        cases.append({"id": f"broadcast-{_shape_id(shape)}-to-{_shape_id(out)}", "fn": "unbroadcast",
                      "params": {"shape": list(shape)}, "inputs": {"grad": normal(rng, out)},
                      "hint": BROADCAST_HINT})
    return cases


SHAPE_HINT = ("; return each gradient in the broadcast (output's) shape, not summed back: the engine's unbroadcast "
              "does that after your backward")
KEPT_HINT = " (only if `grad_unchanged` is off: your backward changed `grad` in place)"


def _op_case(name, op, inputs, hint, **params):
    shape_hint = SHAPE_HINT if op in ("mul", "div", "matmul") else ""
    return {"id": name, "fn": "op_backward", "params": {"op": op, **params}, "inputs": inputs,
            "hint": f"{hint}{shape_hint}{KEPT_HINT}"}


def _binary(rng, op, kind):
    """Inputs of a broadcasting binary op: `row` (b is (m,)), `column` (b is (n, 1)), `same`."""
    n, m = (int(v) for v in rng.integers(2, 5, 2))
    a = normal(rng, (int(rng.integers(2, 4)), n, m) if kind == "row" else (n, m))
    b = normal(rng, {"row": (m,), "column": (n, 1), "same": (n, m)}[kind])
    if op == "div":   # keep |b| away from 0
        b = np.sign(b) * (0.5 + np.abs(b))
    out = np.broadcast_shapes(a.shape, b.shape)
    return {"a": a, "b": b, "grad": normal(rng, out)}, f"{_shape_id(a.shape)}-{_shape_id(b.shape)}"


def _matmul(rng, kind):
    n, k, m, batch = (int(v) for v in rng.integers(2, 5, 4))
    a_shape, b_shape = {"matrix": ((n, k), (k, m)), "batched": ((batch, n, k), (batch, k, m)),
                        "broadcast": ((batch, n, k), (k, m)), "vector": ((k,), (k, m)),
                        "matrix-vector": ((n, k), (k,))}[kind]
    a, b = normal(rng, a_shape), normal(rng, b_shape)
    return {"a": a, "b": b, "grad": normal(rng, np.matmul(a, b).shape)}, \
        f"{_shape_id(a_shape)}-{_shape_id(b_shape)}"


def _reduction(rng, op, kind):
    shape = tuple(int(v) for v in rng.integers(2, 5, 3))
    axis = {"all": None, "axis1": 1, "axis0-keepdims": 0, "axes02": [0, 2], "last": -1}[kind]
    keepdims = kind.endswith("keepdims") or (kind == "all" and bool(rng.integers(0, 2)))
    x = normal(rng, shape)
    out = np.sum(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    name = f"{op}-{kind}{'-keepdims' if keepdims and not kind.endswith('keepdims') else ''}-{_shape_id(shape)}"
    return name, {"a": x, "grad": normal(rng, np.shape(out))}, {"axis": axis, "keepdims": keepdims}


def _op_backward(rng, public):
    cases = []
    mul_kinds = ("row", "same") if public else ("row", "column")
    for kind in mul_kinds:
        inputs, shapes = _binary(rng, "mul", kind)
        cases.append(_op_case(f"mul-broadcast-{kind}-{shapes}" if kind != "same" else f"mul-{shapes}", "mul",
                              inputs, "d(a·b)/da = b, d(a·b)/db = a"))
    inputs, shapes = _binary(rng, "mul", "column")
    cases.append(_op_case(f"mul-b-needs-no-grad-{shapes}", "mul", inputs,
                          "only a requires a gradient here (`self.needs_input_grad`); b's may be None",
                          needs=[True, False]))
    for kind in ("column",) if public else ("column", "row"):
        inputs, shapes = _binary(rng, "div", kind)
        cases.append(_op_case(f"div-broadcast-{kind}-{shapes}", "div", inputs,
                              "d(a/b)/da = 1/b, d(a/b)/db = -a/b² (mind the sign)"))
    for kind in ("matrix", "broadcast", "vector") if public else \
            ("matrix", "batched", "broadcast", "vector", "matrix-vector"):
        inputs, shapes = _matmul(rng, kind)
        cases.append(_op_case(f"matmul-{kind}-{shapes}", "matmul", inputs,
                              "the gradient of a @ b is grad @ bᵀ for a and aᵀ @ grad for b (transposes of the "
                              "last two axes); a 1-D operand gets its missing axis back, then loses it again"))
    for op, kinds in (("sum", ("axis1", "all") if public else ("axis1", "all", "axes02", "last")),
                      ("mean", ("axis0-keepdims",) if public else ("axis0-keepdims", "axis1", "all"))):
        for kind in kinds:
            name, inputs, params = _reduction(rng, op, kind)
            cases.append(_op_case(name, op, inputs, "every input element of a reduced slice gets the slice's gradient"
                                  + (" divided by the slice's size" if op == "mean" else "") + "; without keepdims "
                                  "the reduced axes must be put back (size 1) before broadcasting", **params))
    shape = tuple(int(v) for v in rng.integers(2, 5, 2))
    x = normal(rng, shape)
    x.flat[0] = 0.0    # relu at 0: gradient 0 (the mask x > 0)
    for op, data, hint in (("exp", x, "d exp(x)/dx = exp(x), which forward kept"),
                           ("log", np.abs(x) + 0.5, "d log(x)/dx = 1/x"),
                           ("relu", x, "the gradient passes where x > 0 (the mask forward kept), 0 elsewhere, "
                                       "also at x = 0")):
        cases.append(_op_case(f"{op}-{_shape_id(shape)}", op, {"a": data, "grad": normal(rng, shape)}, hint))
    return cases


E2E_HINT = ("this part runs the whole engine: check first that topological_order, unbroadcast and op_backward "
            "pass; the gradient of a bias added to every row is the SUM over the rows")


def _end_to_end(rng, public):
    cases = []
    for loss in ("cross_entropy", "squared"):
        n, d, h, c = int(rng.integers(2, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
        onehot = np.eye(c)[rng.integers(0, c, n)]
        inputs = {"x": normal(rng, (n, d)), "w1": normal(rng, (d, h)), "b1": normal(rng, h),
                  "w2": normal(rng, (h, c)), "b2": normal(rng, c),
                  "target": onehot if loss == "cross_entropy" else normal(rng, (n, c))}
        cases.append({"id": f"mlp-{loss.replace('_', '-')}-N{n}-D{d}-H{h}-C{c}", "fn": "mlp_backward",
                      "params": {"loss": loss}, "inputs": inputs, "hint": E2E_HINT})
    for _ in range(1 if public else 2):
        n, m, k = (int(v) for v in rng.integers(2, 5, 3))
        b_shape = (1, m) if rng.integers(0, 2) else (m,)
        cases.append({"id": f"expression-a{n}x1-b{_shape_id(b_shape)}-c{m}x{k}", "fn": "expression_backward",
                      "params": {}, "inputs": {"a": normal(rng, (n, 1)), "b": normal(rng, b_shape),
                                               "c": normal(rng, (m, k))}, "hint": E2E_HINT})
    return cases


ENGINE_HANDOUT = """
Every network of this course learns by gradient descent, and every gradient comes from one small engine:
`minidense/tensor.py`. You write its two central pieces, the **order** in which backward visits the graph
and **undoing broadcasting**, and the backward of the core ops that everything else is built from. The
rest of the engine (`Tensor.backward`, the loop `_run_backward`, `Function.apply`) and every other op are
given: read them.

## How the engine works (given: read `_run_backward` in `minidense/tensor.py`)

Every op is a `Function`. `Function.apply(*inputs)` runs `forward` on raw arrays (NumPy, or CuPy on a
GPU), and when an input requires a gradient it links the output tensor to the Function: `out._ctx` is the
Function, `out._ctx.parents` the input tensors, `out._ctx.needs_input_grad` one bool per input. A leaf
(made by `md.tensor(..., requires_grad=True)`) has `_ctx is None`.

`loss.backward()` calls `_run_backward(root, grad)`, which

1. asks your `topological_order(root)` for the tensors to visit;
2. keeps a dictionary `grads` {tensor: gradient so far}, starting with the root's;
3. visits the tensors in your order: it **pops** the tensor's gradient (so it must be complete by then),
   stores it in `.grad` for a leaf, or else calls `tensor._ctx.backward(gradient)`, which returns one
   gradient per input;
4. for each input that requires a gradient: if the gradient's shape differs from the input's, calls your
   `unbroadcast(gradient, input.shape)`; then **adds** it to `grads[input]` (a tensor used by two ops, or
   twice by one op like `a + a`, gets the SUM of all its gradients: the multivariable chain rule);
5. frees each Function's saved arrays after its backward (a second backward raises unless
   `retain_graph=True`).

## What you write, and the contracts

### In `minidense/tensor.py`

- `topological_order(root)` → a **list** of Tensors: `root` first, then every tensor that requires grad
  from which `root` was computed (walk `t._ctx.parents`; skip parents with `requires_grad` False; a leaf's
  `_ctx` is None), **each exactly once**, and **each after every tensor that uses it** (every tensor whose
  `_ctx.parents` holds it). Any such order is correct. It must not recurse: a chain 10,000 ops deep must
  work (Python allows about 1,000 nested calls), so keep your own stack (a list of `(tensor, flag)` pairs
  works: push a tensor, then its parents; append it to the result once all its parents are done; reverse at
  the end). Key sets and dictionaries by `id(t)`: `==` on tensors is element-wise, so `t in a_list` does
  not work. It must not change any tensor.
- `unbroadcast(grad, shape)`: `grad` an array of the broadcast shape, `shape` a tuple that broadcasts to
  `grad.shape` → ONE array of exactly `shape` (and grad's dtype). NumPy broadcasts an operand in two steps:
  it **prepends** axes until the operand has `grad.ndim` axes, and it **stretches** axes of size 1. Every
  element of the operand was used at every place it was copied to, so its gradient is the **sum** over
  those places: sum over the prepended axes and over the stretched ones (`keepdims=True` helps), then
  `reshape(shape)`. Equal shapes: return `grad` itself. `shape == ()` (a scalar): the sum of everything, as a 0-d ARRAY
  (`grad.sum()` alone gives a NumPy scalar, not an array: sum with `keepdims=True`, then reshape).
  Must not change `grad` (no `+=` on it).

### The ops' backward (`minidense/ops/arith.py`, `ops/reduce.py`, `ops/elementwise.py`)

Each `backward(self, grad)` receives the gradient of the op's output (`grad`, an array of the output's
shape; never change it in place: the engine may pass the same array to other ops) and returns the
gradient of each input: ONE array for an op with one input, a **tuple** `(grad_a, grad_b)` for two. For
an input whose `self.needs_input_grad[i]` is False you may return `None` instead. Read each `forward`: it
saves on `self` what backward needs (and nothing is saved that backward does not need). Use
`xp = get_array_module(grad)` instead of `numpy` (the same code runs on a GPU).

**Broadcasting is not the op's business.** A binary op's gradients come back in the **broadcast shape**
(the output's, for `Mul` and `Div`; for `MatMul` the output's batch axes with the input's last two):
that is what the formulas give, and the engine's `unbroadcast` sums them back. Do not sum them yourself:
the grader calls your backward directly, as the engine does, and compares what it returns before
`unbroadcast` (so this part does not depend on your `unbroadcast`).

- `Mul.backward` (`a * b`; forward saved `self.a`, `self.b`) → `(grad_a, grad_b)`.
- `Div.backward` (`a / b`; `self.a`, `self.b`) → `(grad_a, grad_b)`: `d(a/b)/db = −a/b²`.
- `MatMul.backward` (`a @ b`; `self.a`, `self.b`): `a` `(..., n, k)`, `b` `(..., k, m)`, `grad`
  `(..., n, m)` → `(grad @ bᵀ, aᵀ @ grad)` where `ᵀ` swaps the LAST TWO axes (`xp.swapaxes(b, -1, -2)`,
  not `b.T`, which reverses all axes). Batch axes broadcast like NumPy's: both gradients come out with the
  output's batch axes, as the formulas give them (the engine sums them back). A 1-D operand (as NumPy's
  matmul treats it): `a` `(k,)` is a row `(1, k)` whose axis is dropped from the output, `b` `(k,)` a
  column `(k, 1)`; put the dropped axis back into `grad` and the operand, apply the formulas, and drop it
  again, so that a 1-D operand's gradient has no such axis either: `(..., k)`.
- `_expand(grad, shape, axes, keepdims)` (`ops/reduce.py`, a helper of the reductions): the reduction's
  output gradient → an array with `len(shape)` axes, size 1 on the reduced `axes` (sorted, non-negative),
  ready to broadcast to `shape`. With `keepdims=True` it has them already; without, put them back
  (`reshape`).
- `Sum.backward` (forward saved `self.shape` (the input's), `self.axes`, `self.keepdims`) → the input's
  gradient, of `self.shape`: every element of a reduced slice gets the slice's gradient
  (`xp.broadcast_to(_expand(...), self.shape)`; a read-only view is fine: the engine copies before it
  stores a gradient).
- `Mean.backward` (`self.shape`, `self.axes`, `self.keepdims`, `self.count`: the number of elements
  averaged) → the same divided by `self.count`.
- `Exp.backward` (`self.out`, the output), `Log.backward` (`self.x`), `ReLU.backward` (`self.mask`,
  where `x > 0`) → the input's gradient, of the input's shape. ReLU's gradient at exactly 0 is 0.

Everything else (`Add`, `Sub`, `Neg`, `Pow`, `Tanh`, `Sigmoid`, the shape ops...) is given: they are
written the same way, and a good place to look.

## Hints, and where they come from

- The chain rule on a graph: the course's notebook `01_autograd_from_scratch` (lecture material, not in
  this kit) walks a tiny graph by hand and then by the engine; the engine does nothing more than that, in
  the right order. The idea is micrograd's ten-line `backward()` (Karpathy): a topological sort, then each node's local
  derivative times the upstream gradient. Ours sorts without recursion and works on arrays.
- The lecture's running example says the loss is *"computed/backprop'd at every pixel"*: one weight (a
  convolution's, a bias) is used at every pixel, and its gradient is the SUM over the pixels. That is the
  rule of a tensor used twice (the engine adds) and of broadcasting (your `unbroadcast` sums).
- The lecture's *"Why 'Transpose Convolution'?"* slides write convolution as a matrix product and its
  backward as the product with the **transposed** matrix: the gradient of `W @ x` with respect to `x` is
  `Wᵀ @ grad`. `MatMul.backward` is that rule, for both operands.
- A wrong order loses gradients silently (the engine pops a gradient before all of it arrived): compare
  your gradients with `md.gradcheck(fn, inputs)` (central differences, float64) on a diamond and on a
  graph with a long and a short path between two tensors.
- `topological_order` is needed by every backward through the engine, so write it first: the starter
  notebook's cells run in the order of this handout. The parts are graded apart: `topological_order` uses
  only given ops (tanh, sigmoid, +, −, squares, no broadcasting), `unbroadcast` calls your function
  alone, `op_backward` calls each backward alone; only `end_to_end` runs everything together.
"""

_TINY_GRAPH = """x = md.tensor([[1.0, -2.0, 3.0]], requires_grad=True, dtype="float64")    # (1, 3)
w = md.tensor([[0.5], [-1.0], [2.0]], requires_grad=True, dtype="float64")   # (3, 1)
b = md.tensor([0.25], requires_grad=True, dtype="float64")                  # (1,): broadcast
y = (x @ w + b).relu()                                                      # (1, 1)
loss = (y * y).sum() + (x / 2).exp().mean()
loss.backward()
print("loss", loss.item())
print("dloss/dx", x.grad)
print("dloss/dw", w.grad.ravel())
print("dloss/db", b.grad)
"""

_ORDER = """from minidense.tensor import topological_order

x = md.tensor([0.5, -1.0], requires_grad=True, dtype="float64")
a = x.tanh()
b = x.sigmoid()
c = a - b
y = c ** 2 + a          # a is used twice: by c and by y
names = {id(x): "x", id(a): "a = tanh(x)", id(b): "b = sigmoid(x)", id(c): "c = a - b", id(y): "y = c**2 + a"}
order = topological_order(y)
print([names.get(id(t), "c**2") for t in order])

# every arrow goes from a tensor to one of its inputs: in a correct order each arrow points to the right
pos = {id(t): k for k, t in enumerate(order)}
fig, ax = plt.subplots(figsize=(8, 2.4))
for t in order:
    ax.text(pos[id(t)], 0, names.get(id(t), "c**2"), ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round", fc="lightyellow"))
    for p in (t._ctx.parents if t._ctx is not None else ()):
        if id(p) in pos:
            ax.annotate("", xy=(pos[id(p)], 0.08), xytext=(pos[id(t)], 0.08),
                        arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-0.5",
                                        color="green" if pos[id(p)] > pos[id(t)] else "red"))
ax.set_xlim(-0.7, len(order) - 0.3)
ax.set_ylim(-0.3, 1.2)
ax.axis("off")
ax.set_title("backward visits left to right; every arrow (user -> input) must point right")
"""

_UNBROADCAST = """from minidense.tensor import unbroadcast

g = np.arange(24.0).reshape(2, 3, 4)       # a gradient of the broadcast shape (2, 3, 4)
for shape in [(2, 3, 4), (3, 4), (3, 1), (1, 4), (4,), ()]:
    out = unbroadcast(g, shape)
    print(f"{str(shape):10} -> shape {out.shape}, values {out.ravel()[:4]}{' ...' if out.size > 4 else ''}")
"""

_USED_TWICE = """x = md.tensor([1.5, -0.5], requires_grad=True, dtype="float64")
y = x * x + x.exp()          # x is used three times
y.sum().backward()
print("engine:", x.grad)
print("by hand (2x + exp x):", 2 * x.numpy() + np.exp(x.numpy()))
"""

_DEEP = """x = md.tensor([0.3], requires_grad=True, dtype="float64")
h = x
for _ in range(5_000):        # 10,000 ops in a row: tanh(h + x), x used 5,000 times
    h = (h + x).tanh()
h.backward(np.ones(1))        # the upstream gradient of h itself: no reduction's backward needed
print("h =", h.item(), " dh/dx =", x.grad)
"""

_GRADCHECK = """checks = {
    "mul (broadcast)": (lambda a, b: a * b, (md.randn(3, 4, dtype=np.float64), md.randn(4, dtype=np.float64))),
    "div": (lambda a, b: a / (b * b + 1), (md.randn(3, 1, dtype=np.float64), md.randn(1, 4, dtype=np.float64))),
    "matmul (batched)": (lambda a, b: a @ b, (md.randn(2, 3, 4, dtype=np.float64), md.randn(4, 5, dtype=np.float64))),
    "matmul (vector)": (lambda a, b: a @ b, (md.randn(4, dtype=np.float64), md.randn(4, 2, dtype=np.float64))),
    "sum, mean": (lambda a: a.sum(axis=1, keepdims=True) * a.mean(axis=0), (md.randn(2, 3, 4, dtype=np.float64),)),
    "exp, log": (lambda a: (a.exp() + 1).log(), (md.randn(3, 3, dtype=np.float64),)),
}
for name, (fn, inputs) in checks.items():
    print(f"{name:18}", md.gradcheck(fn, inputs))
"""

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
                                         "random graphs (gradients and the order itself)"),
           Part("unbroadcast", 20, "sums over prepended and stretched axes, equal shapes, a scalar; grad left "
                                   "unchanged"),
           Part("op_backward", 35, "the backward of Mul, Div, MatMul (batched, broadcast, 1-D), Sum and Mean "
                                   "(axes, keepdims), Exp, Log, ReLU, called directly"),
           Part("end_to_end", 15, "gradients of a two-layer perceptron's loss and of an expression with "
                                  "broadcasting, through the whole engine",
                builds_on=("topological_order", "unbroadcast", "op_backward"))),
    handout=ENGINE_HANDOUT,
    generators={"topological_order": _topological, "unbroadcast": _unbroadcast, "op_backward": _op_backward,
                "end_to_end": _end_to_end},
    target=("tensor.py", "topological_order"),
    mistakes=(
        Mistake("a recursive depth-first search (fails on the chain 10,000 ops deep)",
                (("tensor.py", _body("tensor.py", "topological_order"), '''    order, visited = [], set()

    def visit(node):
        visited.add(id(node))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.requires_grad and id(parent) not in visited:
                    visit(parent)
        order.append(node)
    visit(root)
    return order[::-1]   # root first
'''),),
                frozenset({"topological_order"})),
        Mistake("unbroadcast sums over the prepended axes only, not over the stretched ones",
                (("tensor.py", "    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) "
                               "if n == 1 and grad.shape[extra + i] != 1)\n",
                  "    axes = tuple(range(extra))\n"),),
                frozenset({"unbroadcast"})),
        Mistake("MatMul's gradient transposed with .T (all axes reversed) instead of the last two axes swapped",
                (("ops/arith.py",
                  "        ga = g @ xp.swapaxes(b2, -1, -2)\n        gb = xp.swapaxes(a2, -1, -2) @ g\n",
                  "        ga = g @ b2.T\n        gb = a2.T @ g\n"),),
                frozenset({"op_backward"})),
        Mistake("Div's gradient for b with the wrong sign",
                (("ops/arith.py", "        return ga, -ga * self.a / self.b\n",
                  "        return ga, ga * self.a / self.b\n"),),
                frozenset({"op_backward"})),
        Mistake("the reductions' gradient broadcast without putting the reduced axes back (keepdims=False)",
                (("ops/reduce.py",
                  "    if not keepdims:\n"
                  "        grad = grad.reshape([1 if i in axes else n for i, n in enumerate(shape)])\n",
                  ""),),
                frozenset({"op_backward"})),
    ),
    starter_cells=(
        Cell("## The order backward visits\n\nA diamond: `x` feeds `a` and `b`, both feed `c`, and `a` is used "
             "again by `y`. Any order in which every arrow points right is correct; yours may differ from the "
             "one shown. (This cell needs only `topological_order`.)", _ORDER),
        Cell("## A chain 10,000 ops deep\n\nThe ops here (`+`, `tanh`) have their backward given, and the shapes "
             "are equal: this cell needs only your `topological_order`. With recursion it stops with a "
             "`RecursionError`.", _DEEP),
        Cell("## unbroadcast on shapes\n\nThe gradient `0..23` of shape `(2, 3, 4)` summed back to operands of "
             "several shapes.", _UNBROADCAST),
        Cell("## A tensor used three times: the gradients add\n\nNeeds `Mul.backward`, `Exp.backward` and "
             "`Sum.backward` (with `_expand`) too.",
             _USED_TWICE),
        Cell("## A tiny graph with every piece\n\nA matrix product, a broadcast bias, ReLU, a product, a "
             "division, exp and two reductions.", _TINY_GRAPH),
        Cell("## Check each backward against finite differences\n\n`md.gradcheck` compares your gradients "
             "with central differences in float64 and names the worst element when they differ.", _GRADCHECK),
    ),
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
