"""Cross-entropy's fast path: ops/loss.py's CrossEntropy with its passes over the scores split between threads.

loss.py's ``cross_entropy`` takes this op when the fast paths are on (ops/fastpaths.py) and ops/parallel.py
splits the scores (several threads, a big enough batch, the CPU). The per-pixel loss is a handful of
passes over the (N, C, H, W) scores (the maximum, the shift, exp, the sum over classes; backward one
more) and no matrix product, so NumPy runs all of it on one core; PyTorch runs it on all of them.

Each thread takes whole images: every value it writes (a pixel's shifted exponentials, their sum, the
gradient) is computed from that pixel's classes alone, with the same NumPy calls in the same order as
loss.py's reference, so the results are the reference's to the bit (tests/ops/test_loss_fast.py checks
it with several threads). The loss's sum over pixels runs once, over the whole batch, as there.
"""
from __future__ import annotations

from ..backend import Array, get_array_module
from ..tensor import Function, Grads
from . import parallel

__all__ = ["CrossEntropy", "splits", "MIN_BYTES"]

#: scores below this size are not split. Measured on AMD EPYC (2 cores, OpenBLAS with 2 threads): the
#: U-Net step's scores (8×21×64×64 float32, 2.75 MB) took 0.49 ms in the reference op and 0.67-0.88 ms
#: split, because the loss follows a convolution whose BLAS threads still spin on the other core; scores
#: of 11 MB (8×21×128×128) went from 7.8 to 7.2 ms right after such a product, and to 5.0 ms alone.
MIN_BYTES = 8 << 20


def splits(x: Array) -> bool:
    """Whether this fast path would split x (N, C, ...) between threads: else the reference op is as fast."""
    return x.ndim > 2 and len(parallel.split(x.shape[0], x, MIN_BYTES)) > 1


class CrossEntropy(Function):
    """x: (N, C, H, W) scores, target: (N, H, W) -> loss; loss.py's CrossEntropy, a piece of the batch per thread."""

    def forward(self, x: Array, target: Array, *, weight: Array | None, ignore_index: int, reduction: str) -> Array:
        xp = get_array_module(x)
        x = xp.ascontiguousarray(x)
        n, c = x.shape[:2]
        valid = target != ignore_index
        self.target = xp.where(valid, target, 0)           # ignored pixels read class 0, weighted 0
        self.w = valid.astype(x.dtype) if weight is None else xp.where(valid, weight[self.target], x.dtype.type(0))
        self.count = float(self.w.sum())
        # flat index of (n, target, pixel) in the C-ordered scores: one gather / scatter, no one-hot
        pixels = target.size // n if n else 0
        self.index = (xp.arange(n).reshape((n,) + (1,) * (target.ndim - 1)) * (c * pixels) + self.target * pixels
                      + xp.arange(pixels).reshape(target.shape[1:]))
        self.e = xp.empty_like(x)                          # exp(x - max over classes)
        self.sum_e = xp.empty((n,) + x.shape[2:], dtype=x.dtype)
        picked = xp.empty_like(self.sum_e)                 # (x - max) at each pixel's target class
        e_flat = self.e.reshape(-1)

        def piece(images: slice) -> None:
            scores, e = x[images], self.e[images]
            xp.subtract(scores, scores.max(axis=1, keepdims=True), out=e)
            picked[images] = e_flat[self.index[images]]
            xp.exp(e, out=e)
            e.sum(axis=1, out=self.sum_e[images])
        self.pieces = parallel.split(n, x, MIN_BYTES)   # backward splits its passes the same way
        parallel.run(piece, self.pieces)
        self.reduction = reduction
        loss = (xp.log(self.sum_e) - picked) * self.w
        if reduction == "none":
            return loss
        total = loss.sum()
        return total if reduction == "sum" or self.count <= 0 else total / self.count

    def backward(self, grad: Array) -> Grads:
        if self.reduction == "mean":
            grad = grad / self.count if self.count > 0 else grad * 0
        coef = grad * self.w                               # (N, ...): 0 where ignored
        xp = get_array_module(coef)
        scale = coef / self.sum_e
        gx = xp.empty_like(self.e)
        gx_flat = gx.reshape(-1)

        def piece(images: slice) -> None:
            xp.multiply(self.e[images], scale[images][:, None], out=gx[images])
            gx_flat[self.index[images]] -= coef[images]    # minus onehot(target) times the pixel's coefficient
        parallel.run(piece, self.pieces)
        return gx, None
