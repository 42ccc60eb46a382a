"""The question's 4-8-1 iris network, done right, and its gradients checked three ways.

The network: 4 inputs -> 8 sigmoid units -> 1 sigmoid output, no biases, squared error
J = 0.5 * sum((y_hat - y)**2) on a binary target (setosa or not). Its gradients come

1. by hand: vectorised backprop in NumPy, every shape written beside it;
2. from autograd_lite: the same forward on Tensors, then loss.backward();
3. from central finite differences (ag.numerical_grad), which know nothing of either.

All three agree to 1e-10 or better; the script prints the differences and asserts it.
Run: python examples/iris_seed.py [--seed 0]
"""
import argparse

import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import autograd_lite as ag


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def main(argv=None):
    seed = _parse(argv).seed
    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data)              # (150, 4), each column mean 0, std 1
    y = (iris.target == 0).astype(float).reshape(-1, 1)        # (150, 1): 1.0 for setosa, else 0.0
    N = X.shape[0]
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((4, 8))                           # (4, 8): input -> hidden
    W2 = rng.standard_normal((8, 1))                           # (8, 1): hidden -> output

    # -- 1. by hand -------------------------------------------------------------------------
    # Forward, one row per flower: the batch is the first axis of everything.
    z1 = X @ W1                                  # (N, 4) @ (4, 8) -> (N, 8)
    a1 = sigmoid(z1)                             # (N, 8)   the sigmoid itself, not its derivative
    z2 = a1 @ W2                                 # (N, 8) @ (8, 1) -> (N, 1)
    y_hat = sigmoid(z2)                          # (N, 1)
    J = 0.5 * np.sum((y_hat - y) ** 2)           # scalar
    # Backward. dJ/dy_hat = (y_hat - y); sigmoid'(z) = s(z) * (1 - s(z)), from the output s.
    delta3 = (y_hat - y) * y_hat * (1 - y_hat)   # (N, 1)   dJ/dz2
    dJdW2 = a1.T @ delta3                        # (8, N) @ (N, 1) -> (8, 1), the shape of W2
    delta2 = delta3 @ W2.T * a1 * (1 - a1)       # (N, 1) @ (1, 8) -> (N, 8), times (N, 8): dJ/dz1
    dJdW1 = X.T @ delta2                         # (4, N) @ (N, 8) -> (4, 8), the shape of W1
    hand = {'W1': dJdW1, 'W2': dJdW2}

    # -- 2. autograd_lite ---------------------------------------------------------------------
    W1_t = ag.Tensor(W1, requires_grad=True, name='W1')
    W2_t = ag.Tensor(W2, requires_grad=True, name='W2')

    def loss(W1, W2):
        y_hat = ag.sigmoid(ag.sigmoid(X @ W1) @ W2)   # the same forward, on Tensors
        return 0.5 * ((y_hat - y) ** 2).sum()

    J_t = loss(W1_t, W2_t)
    J_t.backward()
    auto = {'W1': W1_t.grad, 'W2': W2_t.grad}

    # -- 3. central finite differences -----------------------------------------------------------
    # One step size h leaves an error ~h**2 (truncation) + ~1e-16 * |J| / h (rounding): about
    # 3e-10 at best here (J is ~36). Two step sizes cancel the h**2 term (Richardson):
    # (4 D(h/2) - D(h)) / 3 has error ~h**4, so 1e-11 is within reach.
    h = 3e-3
    coarse = ag.numerical_grad(loss, [W1_t, W2_t], eps=h)
    fine = ag.numerical_grad(loss, [W1_t, W2_t], eps=h / 2)
    numeric = {name: (4 * f - c) / 3 for name, f, c in zip(('W1', 'W2'), fine, coarse)}

    print(f"iris, setosa vs the rest: X {X.shape}, y {y.shape}, W1 {W1.shape}, W2 {W2.shape}")
    print(f"loss J: by hand {J:.15g}, autograd_lite {J_t.item():.15g}\n")
    hand_vs_auto = ag.compare_gradients(hand, auto, atol=1e-10, rtol=0, labels=('hand', 'autograd'))
    numeric_vs_auto = ag.compare_gradients(numeric, auto, atol=1e-10, rtol=0, labels=('numeric', 'autograd'))
    print(hand_vs_auto, end='\n\n')
    print(numeric_vs_auto, end='\n\n')
    diffs = {'|J hand - J autograd|': abs(J - J_t.item()),
             'max |hand - autograd|': hand_vs_auto.max_abs_error,
             'max |numeric - autograd|': numeric_vs_auto.max_abs_error,
             'max |hand - numeric|': max(np.abs(hand[k] - numeric[k]).max() for k in hand)}
    for label, d in diffs.items():
        print(f"{label:26s} {d:.2e}")
    assert hand_vs_auto.ok and numeric_vs_auto.ok, "the gradients disagree"
    assert max(diffs.values()) <= 1e-10, diffs
    print("all three agree to 1e-10 or better")
    return diffs


def _parse(argv):
    parser = argparse.ArgumentParser(description="The question's 4-8-1 iris network with its "
                                     "gradients by hand, by autograd_lite and by finite differences.")
    parser.add_argument('--seed', type=int, default=0, help="seed of the random weights (default 0)")
    return parser.parse_args(argv)


if __name__ == '__main__':
    main()
