"""Optimisers: update parameters in place from their ``.grad``, outside any graph.

>>> opt = ag.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
>>> opt.zero_grad(); loss_fn(net(X), y).backward(); opt.step()

``step()`` writes into each parameter's array (``p.data``) with in-place NumPy ufuncs,
reusing one scratch array per parameter, so a step allocates nothing of the
parameters' size. Parameters whose ``.grad`` is None (unused this step) are skipped,
and so are those with ``requires_grad=False`` (frozen layers, as in PyTorch; also when
frozen after the optimiser was made), so ``SGD(model.parameters(), ...)`` works with
some layers frozen.
The formulas are PyTorch's, so the same start and gradients give the same weights.
"""
import math

import numpy as np

from .engine import subtract_in_place

from .tensor import Tensor


def _check_number(owner, name, value, low, high=math.inf, low_open=False, high_open=False):
    """Raise ValueError naming ``name`` unless value lies in the interval (finite, real)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (math.isfinite(value) and (value > low if low_open else value >= low)
              and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    return value


class Optimizer:
    """Holds the parameter list; subclasses implement :meth:`step`."""

    def __init__(self, params):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise ValueError(f"{name}: params must be an iterable of tensors, e.g. model.parameters(), "
                             "got a single Tensor; wrap it in a list")
        if hasattr(params, 'parameters') and callable(params.parameters):
            raise ValueError(f"{name}: params must be an iterable of tensors; pass model.parameters(), "
                             f"not the {type(params).__name__} itself")
        try:
            params = iter(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of tensors, e.g. model.parameters(), "
                            f"got {type(params).__name__}") from None
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: params is empty, so there is nothing to optimise (a weight kept as a "
                             "plain Tensor instead of an nn.Parameter is not found by parameters())")
        seen = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise ValueError(f"{name}: params[{i}] is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: params[{i}] (name {p.name!r}, shape {p.shape}) is not a leaf (it was "
                                 "computed by an op); an optimiser updates leaf tensors such as model.parameters()")
            if p in seen:
                raise ValueError(f"{name}: params[{i}] is params[{seen[p]}] again; pass each tensor once")
            seen[p] = i
        # Scratch space for each parameter, so step() need not allocate.
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def zero_grad(self):
        """Forget every parameter's gradient (``.grad = None``, PyTorch's default)."""
        for p in self.params:
            p.grad = None

    def step(self):
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (heavy-ball or Nesterov)
    and L2 weight decay:

        d = grad + weight_decay * p
        buf = momentum * buf + d        (buf = d on the first step)
        p  -= lr * buf                  (nesterov: p -= lr * (d + momentum * buf))
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params)
        self.lr = _check_number('SGD', 'lr', lr, 0, low_open=True)
        self.momentum = _check_number('SGD', 'momentum', momentum, 0)
        self.weight_decay = _check_number('SGD', 'weight_decay', weight_decay, 0)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.nesterov = bool(nesterov)
        self._buffers = [None] * len(self.params)

    def step(self):
        lr, mom, wd = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            d = p.grad
            if d is None or not p._requires_grad:
                continue
            s = self._scratch[i]
            if wd:
                np.multiply(p.data, wd, out=s)
                s += d
                d = s
            if mom:
                buf = self._buffers[i]
                if buf is None:
                    buf = self._buffers[i] = d.copy()
                else:
                    buf *= mom
                    buf += d
                if self.nesterov:  # p -= lr * d, then p -= lr * momentum * buf
                    np.multiply(d, lr, out=s)
                    subtract_in_place(p, s)  # p.data -= s, counted: a graph that saved p will say so
                    np.multiply(buf, lr * mom, out=s)
                    subtract_in_place(p, s)  # p.data -= s, counted: a graph that saved p will say so
                    continue
                d = buf
            np.multiply(d, lr, out=s)
            subtract_in_place(p, s)  # p.data -= s, counted: a graph that saved p will say so


class Adam(Optimizer):
    """Adam (Kingma & Ba), with L2 ``weight_decay`` added to the gradient as PyTorch does:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g          v = beta2 * v + (1 - beta2) * g**2
        p -= lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)

    t counts the steps in which p had a gradient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr = _check_number('Adam', 'lr', lr, 0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number('Adam', 'betas[0]', betas[0], 0, 1, high_open=True),
                      _check_number('Adam', 'betas[1]', betas[1], 0, 1, high_open=True))
        self.eps = _check_number('Adam', 'eps', eps, 0)
        self.weight_decay = _check_number('Adam', 'weight_decay', weight_decay, 0)
        # Steps taken by each parameter: one skipped in a step (grad None, frozen) is not counted,
        # so its bias corrections stay right (PyTorch counts the same way).
        self.steps = [0] * len(self.params)
        self._m = [np.zeros_like(p.data) for p in self.params]
        self._v = [np.zeros_like(p.data) for p in self.params]
        self._decayed = None  # with weight decay: grad + wd * p, beside the scratch array

    def step(self):
        (b1, b2), eps, wd = self.betas, self.eps, self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None or not p._requires_grad:
                continue
            self.steps[i] += 1
            t = self.steps[i]
            step_size = self.lr / (1 - b1 ** t)
            root_correction = math.sqrt(1 - b2 ** t)
            s, m, v = self._scratch[i], self._m[i], self._v[i]
            if wd:
                if self._decayed is None:
                    self._decayed = [np.empty_like(q.data) for q in self.params]
                g = np.multiply(p.data, wd, out=self._decayed[i])
                g += p.grad
            m *= b1                          # m = b1 m + (1 - b1) g
            np.multiply(g, 1 - b1, out=s)
            m += s
            v *= b2                          # v = b2 v + (1 - b2) g^2
            np.multiply(g, g, out=s)
            s *= 1 - b2
            v += s
            np.sqrt(v, out=s)                # s = sqrt(v_hat) + eps, then the step
            s /= root_correction
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            subtract_in_place(p, s)  # p.data -= s, counted: a graph that saved p will say so


__all__ = ['Optimizer', 'SGD', 'Adam']
