"""The seed's own NumPy code, differentiated: only w1 and w2 become Tensors.

The learner's 4-8-1 iris network (4 inputs -> 8 sigmoid units -> 1 sigmoid output, no biases,
J = 0.5 * sum((y_hat - y)**2)) in both of the thread's spellings, unchanged NumPy code:

1. the question's, one flower at a time as a column: ``z1 = w1.T.dot(x)``, ``np.multiply``,
   ``sigmoid(x, deriv=False)`` written with ``np.exp``;
2. the answer's, vectorised: ``z1 = np.dot(X, w1)``, ``a1 = sigmoid(z1)``, ...

Wrapping ``w1`` and ``w2`` in ``ag.Tensor(..., requires_grad=True)`` makes the same lines record
a graph, because NumPy hands its functions to the Tensors; ``J.backward()`` then gives the
gradients, which equal the hand-derived ``dJdW1``, ``dJdW2`` to 1e-12. The answer's delta3
``(y - y_hat) * ...`` has the sign slipped; compare_gradients names it.

Run: python examples/seed_numpy.py [--seed 0]
"""
import argparse

import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import autograd_lite as ag


def sigmoid(x, deriv=False):
    """The thread's helper, as written there: NumPy code that also runs on Tensors."""
    if deriv:
        return sigmoid(x) * (1 - sigmoid(x))
    else:
        return 1 / (1 + np.exp(-x))


def data():
    """The answer's data: 130 scaled flowers (130, 4) and their labels as a column (130, 1)."""
    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data[:-20])
    y = iris.target[:-20].reshape(-1, 1).astype(float)
    return X, y


def per_sample(X, y, w1, w2):
    """The question's forward, one flower at a time: J summed over the flowers."""
    J = 0
    for i in range(len(X)):
        x = X[i].reshape(4, 1)               # (4, 1) one flower, a column
        z1 = w1.T.dot(x)                     # (8, 4) . (4, 1) -> (8, 1)
        a1 = sigmoid(z1)                     # (8, 1)
        z2 = w2.T.dot(a1)                    # (1, 8) . (8, 1) -> (1, 1)
        y_hat = sigmoid(z2)                  # (1, 1) (the question had deriv=True here: a slip)
        y_ = y[i].reshape(1, 1)
        J = J + 0.5 * np.sum(np.multiply(y_hat - y_, y_hat - y_))
    return J


def per_sample_by_hand(X, y, w1, w2):
    """The question's backward, per flower, summed: dJdW1 (4, 8), dJdW2 (8, 1)."""
    dJdW1, dJdW2 = np.zeros_like(w1), np.zeros_like(w2)
    for i in range(len(X)):
        x = X[i].reshape(4, 1)
        z1 = w1.T.dot(x)
        a1 = sigmoid(z1)
        z2 = w2.T.dot(a1)
        y_hat = sigmoid(z2)
        y_ = y[i].reshape(1, 1)
        delta3 = np.multiply((y_hat - y_), sigmoid(z2, deriv=True))   # (1, 1)
        dJdW2 += a1.dot(delta3.T)                                     # (8, 1) . (1, 1) -> (8, 1)
        delta2 = np.dot(w2, delta3) * sigmoid(z1, deriv=True)         # (8, 1)
        dJdW1 += x.dot(delta2.T)                                      # (4, 1) . (1, 8) -> (4, 8)
    return dJdW1, dJdW2


def vectorised(X, y, w1, w2):
    """The answer's forward, every flower at once."""
    z1 = np.dot(X, w1)                       # (130, 4) . (4, 8) -> (130, 8)
    a1 = sigmoid(z1)
    z2 = np.dot(a1, w2)                      # (130, 8) . (8, 1) -> (130, 1)
    y_hat = sigmoid(z2)
    return 0.5 * np.sum((y_hat - y) ** 2)


def vectorised_by_hand(X, y, w1, w2, slip=False):
    """The answer's backward; ``slip=True`` keeps its ``(y - y_hat)``."""
    z1 = np.dot(X, w1)
    a1 = sigmoid(z1)
    z2 = np.dot(a1, w2)
    y_hat = sigmoid(z2)
    error = (y - y_hat) if slip else (y_hat - y)
    delta3 = error * sigmoid(z2, deriv=True)                   # (130, 1)
    dJdW2 = a1.T.dot(delta3)                                   # (8, 1)
    delta2 = np.dot(delta3, w2.T) * sigmoid(z1, deriv=True)    # (130, 8)
    dJdW1 = np.dot(X.T, delta2)                                # (4, 8)
    return dJdW1, dJdW2


def main(argv=None):
    seed = _parse(argv).seed
    X, y = data()
    rng = np.random.default_rng(seed)
    w1_array = rng.random((np.shape(X)[1], 8))                 # the answer's np.random.rand, seeded
    w2_array = rng.random((8, 1))
    worst = {}
    for label, forward, by_hand in (('per sample (the question)', per_sample, per_sample_by_hand),
                                    ('vectorised (the answer)', vectorised, vectorised_by_hand)):
        w1 = ag.Tensor(w1_array, requires_grad=True, name='w1')   # the only change to the code
        w2 = ag.Tensor(w2_array, requires_grad=True, name='w2')
        J = forward(X, y, w1, w2)
        J.backward()
        dJdW1, dJdW2 = by_hand(X, y, w1_array, w2_array)
        report = ag.compare_gradients({'w1': dJdW1, 'w2': dJdW2}, {'w1': w1.grad, 'w2': w2.grad},
                                      atol=1e-12, rtol=0, labels=('hand', 'autograd'))
        worst[label] = report.max_abs_error
        print(f"{label}: J = {J:.6f}\n{report}\n")
        assert report.ok, report
    dJdW1, dJdW2 = vectorised_by_hand(X, y, w1_array, w2_array, slip=True)
    slip = ag.compare_gradients({'w1': dJdW1, 'w2': dJdW2}, {'w1': w1.grad, 'w2': w2.grad},
                                labels=('answer', 'autograd'))
    print(f"the answer's delta3 = (y - y_hat) * ...:\n{slip}")
    assert slip.verdicts == {'w1': 'sign', 'w2': 'sign'}, slip.verdicts
    return worst


def _parse(argv):
    parser = argparse.ArgumentParser(description="The seed's NumPy network with w1, w2 as Tensors.")
    parser.add_argument('--seed', type=int, default=0, help="seed of the random weights (default 0)")
    return parser.parse_args(argv)


if __name__ == '__main__':
    main()
