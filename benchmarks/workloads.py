"""The benchmark workloads: what each one computes, with seeded data and weights.

Two kinds:

* :class:`MLP` -- one training step of a small fully connected network: forward, loss,
  backward, SGD update. Layer ``k`` computes ``h @ W_k + b_k`` (W_k of shape (in, out)),
  then the hidden activation (or the output activation after the last layer).
* :class:`Chain` -- a long chain of cheap elementwise ops on a small vector,
  ``x -> tanh(x * 1.0001 + 0.001)`` repeated, then ``sum``; it measures the cost of one
  recorded op, fwd + bwd, where the arithmetic itself costs almost nothing.

The data's values do not change any timing, so the data are synthetic (seeded normal
inputs, random labels) with the real data sets' shapes: iris (130 training rows, 4
features, 3 classes) and scikit-learn's digits (64 features, 10 classes).
"""
from dataclasses import dataclass

import numpy as np

DTYPE = np.float64
LR = 0.01  # SGD step; small, so that repeated timing steps keep the network sane


@dataclass(frozen=True)
class MLP:
    """A network ``sizes[0] -> ... -> sizes[-1]`` and its loss.

    ``loss`` is 'cross_entropy' (mean over rows, integer labels, on the raw scores of the
    last layer), 'half_mse' (0.5 * mean((y_hat - y)**2)) or 'mse' (mean((y_hat - y)**2)).
    ``output`` is the activation after the last layer: None or 'sigmoid'.
    """
    key: str
    title: str
    batch: int
    sizes: tuple
    activation: str  # 'sigmoid', 'tanh' or 'relu', after every hidden layer
    output: str | None
    loss: str
    bias: bool
    goal: float  # the ratio to NumPy by hand that autograd_lite should reach

    def data(self, seed=0):
        """``(X, Y, params)``: inputs (batch, sizes[0]), targets (int labels (batch,) for
        cross-entropy, else (batch, sizes[-1]) floats), params [W1, b1, W2, b2, ...]
        (no b's without bias), Glorot-uniform weights and small random biases."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((self.batch, self.sizes[0]))
        if self.loss == 'cross_entropy':
            Y = rng.integers(0, self.sizes[-1], size=self.batch)
        elif self.output == 'sigmoid':
            Y = rng.integers(0, 2, size=(self.batch, self.sizes[-1])).astype(DTYPE)
        else:
            Y = rng.standard_normal((self.batch, self.sizes[-1]))
        params = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            limit = np.sqrt(6.0 / (n_in + n_out))
            params.append(rng.uniform(-limit, limit, size=(n_in, n_out)))
            if self.bias:
                params.append(rng.uniform(-0.1, 0.1, size=n_out))
        return X, Y, params


@dataclass(frozen=True)
class Chain:
    """``n_ops`` ops on a vector of shape ``(width,)``: (x * 1.0001, + 0.001, tanh) repeated,
    the last repetition cut short when n_ops is not a multiple of 3; then the gradient of
    ``sum`` with respect to the input."""
    key: str
    title: str
    n_ops: int
    width: int
    goal: float  # microseconds per op (W4) or seconds (W5)
    goal_mib: float | None = None  # W5: extra peak memory

    def data(self, seed=0):
        return np.random.default_rng(seed).uniform(-1.0, 1.0, size=self.width)


def run_chain(x, n_ops, tanh):
    """The chain's forward, written once for every engine: ``tanh`` is the engine's own
    tanh and ``x`` its tensor type; the arithmetic operators do the rest."""
    for _ in range(n_ops // 3):
        x = tanh(x * 1.0001 + 0.001)
    rest = n_ops % 3
    if rest:
        x = x * 1.0001
    if rest == 2:
        x = x + 0.001
    return x


def mlp_scores(w, h, params, matmul, act):
    """The network's forward up to the last layer's scores, written once for the engines
    whose tensors work with plain operators: ``matmul`` and ``act`` are the engine's."""
    step = 2 if w.bias else 1
    last = len(w.sizes) - 2
    for k in range(last + 1):
        h = matmul(h, params[step * k])
        if w.bias:
            h = h + params[step * k + 1]
        if k < last:
            h = act(h)
    return h


W1 = MLP('W1', 'iris step: 130x4, 4-8-3 sigmoid, softmax cross-entropy',
         130, (4, 8, 3), 'sigmoid', None, 'cross_entropy', True, goal=1.5)
W1b = MLP('W1b', "the seed's net: 130x4, 4-8-1 sigmoid/sigmoid, 0.5*mean squared error",
          130, (4, 8, 1), 'sigmoid', 'sigmoid', 'half_mse', False, goal=1.8)
W2 = MLP('W2', 'digits: batch 64, 64-128-10 relu, softmax cross-entropy',
         64, (64, 128, 10), 'relu', None, 'cross_entropy', True, goal=1.3)
W3 = MLP('W3', '256x1024 batch, 1024-1024-1024 tanh, MSE',
         256, (1024, 1024, 1024), 'tanh', None, 'mse', True, goal=1.03)
W4 = Chain('W4', '2000 chained ops (x*1.0001, x+0.001, tanh) on shape (8,)', 2000, 8, goal=3.0)
W5 = Chain('W5', 'the same chain, 100,000 ops on shape (4,)', 100_000, 4, goal=0.5, goal_mib=60.0)

MLPS = (W1, W1b, W2, W3)
ALL = {w.key: w for w in (W1, W1b, W2, W3, W4, W5)}


def small(workload):
    """A tiny version of a workload with the same structure (for fast correctness tests)."""
    if isinstance(workload, Chain):
        return Chain(workload.key, workload.title, 7, 3, workload.goal, workload.goal_mib)
    sizes = tuple(min(n, 5) for n in workload.sizes)
    return MLP(workload.key, workload.title, 6, sizes, workload.activation, workload.output,
               workload.loss, workload.bias, workload.goal)
