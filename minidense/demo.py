"""`make demo`: a short autograd demonstration (until the training demo replaces it)."""
import numpy as np

import minidense as md


def main():
    md.manual_seed(0)
    x = md.randn(4, 3, dtype=np.float64, requires_grad=True)
    w = md.randn(3, 2, dtype=np.float64, requires_grad=True)
    loss = ((x @ w).relu() ** 2).mean()
    loss.backward()
    print(f"loss = {loss.item():.6f}")
    print("dloss/dw =\n", w.grad)
    ok = md.gradcheck(lambda a, b: ((a @ b).relu() ** 2).mean(), (x, w))
    print("gradcheck against central differences:", "passed" if ok else "FAILED")


if __name__ == "__main__":
    main()
