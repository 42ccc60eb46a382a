"""Random programs against PyTorch (float64): values, gradients and Hessian-vector products.

hypothesis builds a program: a DAG of ops over a few inputs of random shapes, where each op
takes values made earlier (reused freely, broadcast against each other) or constants
(numbers, arrays, on either side of an operator). It covers every differentiable op the
package exports: the ``ag.*`` ops, indexing (basic and advanced), the arithmetic operators
and ``nn.functional``'s ``linear``, ``cross_entropy``, ``mse_loss`` and
``binary_cross_entropy_with_logits``. The program is built on concrete values, so each op
is only applied inside its domain (log and sqrt of values > 0.1, a divisor away from 0)
and a margin away from its kinks (relu, abs, clip, maximum and max without near-ties).

The same program then runs in autograd_lite and in PyTorch, and three things must match:
the outputs, the gradients of a random-weighted scalar of some outputs with respect to
every input, and the Hessian-vector products (``ag.grad(..., create_graph=True)``, then the
gradient of ``<grad, v>``: torch's double backward).

Runs: ``python -m pytest tests/test_fuzz.py`` is the CI run (300 derandomized examples);
the long run, 5,000 random examples, is skipped unless selected:
``python -m pytest tests/test_fuzz.py -m fuzz_long`` or ``AG_FUZZ_LONG=1 python -m pytest tests/test_fuzz.py``
(``AG_FUZZ_LONG=20000`` sets the number of examples). A failure prints the program.
"""
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

import autograd_lite as ag
from autograd_lite.nn import functional as F
from strategies import _broadcasts, axes, shapes

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MARGIN = 0.05    # distance kept from kinks and ties
BOUND = 30.0     # values larger than this are not kept (exp of exp ...)
MAX_INPUTS = 4


# -- the ops: (ag function, torch function), both called as fn(params, *operands) ----------
def _tdims(axis, ndim):
    return tuple(range(ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))


def _treduce(fn):
    def reduce(p, x):
        if x.ndim == 0:  # only axis=None reaches a 0-d value
            return fn(x.reshape(1), dim=(0,), keepdim=False).reshape(())
        return fn(x, dim=_tdims(p['axis'], x.ndim), keepdim=p['keepdims'])
    return reduce


def _tt(x):
    """A number as a 0-d torch tensor (for torch functions that take tensors only)."""
    return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)


def _tamax(x, dim, keepdim):
    return torch.amax(x, dim=dim, keepdim=keepdim)


def _tamin(x, dim, keepdim):
    return torch.amin(x, dim=dim, keepdim=keepdim)


def _ag_reduce(name):
    def reduce(p, x):
        if p['method']:
            return getattr(x, name)(p['axis'], p['keepdims'])
        return getattr(ag, name)(x, axis=p['axis'], keepdims=p['keepdims'])
    return reduce


def _tgather(p, x):
    """x[index] in torch: a gather of the flat positions NumPy's indexing selects (any
    index NumPy accepts, negative steps and boolean masks included)."""
    positions = np.arange(int(np.prod(x.shape)), dtype=np.int64).reshape(tuple(x.shape))[p['index']]
    positions = np.array(positions)  # a copy: torch takes no negative strides
    return x.reshape(-1)[torch.as_tensor(positions.reshape(-1))].reshape(positions.shape)


def _ag_clip(p, x, *bounds):
    lo, hi = (bounds + (None, None))[:2] if p['tensor_bounds'] else (p['lo'], p['hi'])
    return ag.clip(x, lo, hi) if not p['method'] else x.clip(lo, hi)


def _t_clip(p, x, *bounds):
    if p['tensor_bounds']:
        return torch.clamp(x, *map(_tt, bounds))
    return torch.clamp(x, p['lo'], p['hi'])


def _ag_linear(p, x, w, *b):
    return F.linear(x, w, b[0] if b else None)


def _t_linear(p, x, w, *b):
    return x @ w + b[0] if b else x @ w


def _ag_ce(p, x, t):
    return F.cross_entropy(x, t, reduction=p['reduction'])


def _t_ce(p, x, t):
    if not isinstance(t, torch.Tensor) or t.dtype == torch.int64:
        t = torch.as_tensor(t)
    return TF.cross_entropy(x, t, reduction=p['reduction'])


OPS = {
    'neg': (lambda p, x: -x, lambda p, x: -x),
    'exp': (lambda p, x: ag.exp(x), lambda p, x: torch.exp(x)),
    'log': (lambda p, x: ag.log(x), lambda p, x: torch.log(x)),
    'sqrt': (lambda p, x: ag.sqrt(x), lambda p, x: torch.sqrt(x)),
    'abs': (lambda p, x: ag.abs(x), lambda p, x: torch.abs(x)),
    'tanh': (lambda p, x: ag.tanh(x), lambda p, x: torch.tanh(x)),
    'sigmoid': (lambda p, x: ag.sigmoid(x), lambda p, x: torch.sigmoid(x)),
    'relu': (lambda p, x: ag.relu(x), lambda p, x: torch.relu(x)),
    'add': (lambda p, x, y: x + y, lambda p, x, y: x + y),
    'sub': (lambda p, x, y: x - y, lambda p, x, y: x - y),
    'mul': (lambda p, x, y: x * y, lambda p, x, y: x * y),
    'div': (lambda p, x, y: x / y, lambda p, x, y: x / y),
    'pow': (lambda p, x, y: x ** y, lambda p, x, y: x ** y),
    'ag.pow': (lambda p, x, y: ag.pow(x, y), lambda p, x, y: torch.pow(x, y)),
    'matmul': (lambda p, x, y: x @ y, lambda p, x, y: x @ y),
    'ag.matmul': (lambda p, x, y: ag.matmul(x, y), lambda p, x, y: torch.matmul(x, y)),
    'maximum': (lambda p, x, y: ag.maximum(x, y), lambda p, x, y: torch.maximum(_tt(x), _tt(y))),
    'minimum': (lambda p, x, y: ag.minimum(x, y), lambda p, x, y: torch.minimum(_tt(x), _tt(y))),
    'clip': (_ag_clip, _t_clip),
    'where': (lambda p, x, y: ag.where(p['cond'], x, y),
              lambda p, x, y: torch.where(torch.as_tensor(p['cond']), _tt(x), _tt(y))),
    'sum': (_ag_reduce('sum'), _treduce(torch.sum)),
    'mean': (_ag_reduce('mean'), _treduce(torch.mean)),
    'max': (_ag_reduce('max'), _treduce(_tamax)),
    'min': (_ag_reduce('min'), _treduce(_tamin)),
    'logsumexp': (_ag_reduce('logsumexp'), _treduce(torch.logsumexp)),
    'reshape': (lambda p, x: x.reshape(p['shape']) if p['method'] else ag.reshape(x, p['shape']),
                lambda p, x: x.reshape(p['shape'])),
    'transpose': (lambda p, x: (x.T if p['axes'] is None else x.transpose(p['axes'])) if p['method']
                  else ag.transpose(x, p['axes']),
                  lambda p, x: x.permute(tuple(reversed(range(x.ndim))) if p['axes'] is None else p['axes'])),
    'swapaxes': (lambda p, x: ag.swapaxes(x, p['a'], p['b']), lambda p, x: torch.swapaxes(x, p['a'], p['b'])),
    'squeeze': (lambda p, x: ag.squeeze(x, p['axis']),
                lambda p, x: torch.squeeze(x) if p['axis'] is None else torch.squeeze(x, p['axis'])),
    'expand_dims': (lambda p, x: ag.expand_dims(x, p['axis']), lambda p, x: torch.unsqueeze(x, p['axis'])),
    'broadcast_to': (lambda p, x: ag.broadcast_to(x, p['shape']), lambda p, x: torch.broadcast_to(x, p['shape'])),
    'concatenate': (lambda p, *xs: ag.concatenate(list(xs), axis=p['axis']),
                    lambda p, *xs: torch.cat([x.reshape(-1) for x in xs]) if p['axis'] is None
                    else torch.cat(list(xs), dim=p['axis'])),
    'stack': (lambda p, *xs: ag.stack(list(xs), axis=p['axis']), lambda p, *xs: torch.stack(list(xs), dim=p['axis'])),
    'softmax': (lambda p, x: ag.softmax(x, axis=p['axis']), lambda p, x: torch.softmax(x, dim=p['axis'])),
    'log_softmax': (lambda p, x: ag.log_softmax(x, axis=p['axis']), lambda p, x: torch.log_softmax(x, dim=p['axis'])),
    'getitem': (lambda p, x: x[p['index']], _tgather),
    'linear': (_ag_linear, _t_linear),
    'cross_entropy': (_ag_ce, _t_ce),
    'mse_loss': (lambda p, x, y: F.mse_loss(x, y, reduction=p['reduction']),
                 lambda p, x, y: TF.mse_loss(x, y, reduction=p['reduction'])),
    'bce_with_logits': (lambda p, x, y: F.binary_cross_entropy_with_logits(x, y, reduction=p['reduction']),
                        lambda p, x, y: TF.binary_cross_entropy_with_logits(x, y, reduction=p['reduction'])),
}


# -- programs -------------------------------------------------------------------------------
# A program: ``inputs`` (arrays) and ``steps``, each (op, operands, params); an operand is
# ('i', k), the k-th input, ('s', j), the j-th step's result, or ('c', constant).
class Program:
    def __init__(self):
        self.inputs, self.steps, self.outputs, self.weights, self.directions = [], [], [], [], []

    def __repr__(self):
        lines = [f"x{k} = input of shape {a.shape}" for k, a in enumerate(self.inputs)]
        for j, (op, operands, params) in enumerate(self.steps):
            args = ', '.join(_name(o) for o in operands)
            shown = {key: v for key, v in params.items() if key != 'cond'}
            lines.append(f"v{j} = {op}({args}){' ' + repr(shown) if shown else ''}")
        lines.append(f"outputs: {', '.join(_name(o) for o in self.outputs)}")
        return '\n'.join(lines)


def _name(operand):
    kind, r = operand
    if kind == 'i':
        return f"x{r}"
    if kind == 's':
        return f"v{r}"
    return f"const{np.shape(r)}" if isinstance(r, np.ndarray) and r.ndim else repr(r)


def run(program, lib, inputs):
    """The result of every step of ``program`` computed by ``lib`` ('ag' or 'torch')."""
    results = []
    for op, operands, params in program.steps:
        args = []
        for kind, r in operands:
            if kind == 'i':
                args.append(inputs[r])
            elif kind == 's':
                args.append(results[r])
            elif lib == 'torch' and isinstance(r, np.ndarray):
                args.append(torch.as_tensor(r) if r.dtype.kind == 'i' else torch.tensor(r, dtype=torch.float64))
            else:
                args.append(r)
        results.append(OPS[op][0 if lib == 'ag' else 1](params, *args))
    return results


def _fits(v):
    return v.size > 0 and np.all(np.isfinite(v)) and np.abs(v).max() <= BOUND


class Builder:
    """Draws a program step by step, on the concrete values (computed by autograd_lite)."""

    def __init__(self, data, rng):
        self.data, self.rng, self.program, self.results = data, rng, Program(), []
        self.order = [str(op) for op in rng.permutation(sorted(OPS))]

    def operands(self):
        return [('i', k) for k in range(len(self.program.inputs))] + [('s', j) for j in range(len(self.results))]

    def draw(self, strategy):
        return self.data.draw(strategy)

    def new_input(self, shape, low=-2.0, high=2.0):
        """A new input of ``shape`` (or, with MAX_INPUTS inputs already, a constant array)."""
        a = self.rng.uniform(low, high, size=shape)
        if len(self.program.inputs) >= MAX_INPUTS:
            return ('c', a)
        self.program.inputs.append(a)
        return ('i', len(self.program.inputs) - 1)

    def pick(self, test=lambda v: True):
        """An existing input or result passing ``test``, as an operand, or None."""
        fit = [o for o in self.operands() if test(self.value(o))]
        return self.draw(st.sampled_from(fit)) if fit else None

    def value(self, operand):
        kind, r = operand
        if kind == 'i':
            return self.program.inputs[r]
        if kind == 's':
            return self.results[r]
        return np.asarray(r, dtype=float)

    def partner(self, shape, low=-2.0, high=2.0, test=lambda v: True):
        """A second operand that broadcasts against ``shape``: a value, a new input, or a constant."""
        choice = self.draw(st.sampled_from(['value', 'input', 'number', 'array']))
        if choice == 'value':
            found = self.pick(lambda v: _broadcasts(v.shape, shape) and test(v))
            if found is not None:
                return found
        sub = self.sub_shape(shape)
        if choice == 'number':
            return ('c', float(np.round(self.rng.uniform(low, high), 3)))
        if choice == 'array':
            return ('c', self.rng.uniform(low, high, size=sub))
        return self.new_input(sub, low, high)

    def sub_shape(self, shape):
        """A shape that broadcasts to ``shape``: leading axes dropped, some sides set to 1."""
        drop = self.draw(st.integers(0, len(shape)))
        return tuple(1 if self.draw(st.booleans()) else n for n in shape[drop:])

    def axis(self, ndim, extra=0):
        return self.draw(st.integers(-ndim - extra, ndim - 1 + extra))

    def step(self):
        # hypothesis prefers the first choices, so the ops come in an order shuffled per
        # program: each op is as likely as any other to be drawn first
        op = self.draw(st.sampled_from(self.order))
        x_op = self.pick()
        x = self.value(x_op)
        made = getattr(self, 'op_' + op.replace('.', '_'), None)
        made = made(x_op, x) if made else self.elementwise(op, x_op, x)
        if made is None:
            return
        operands, params = made
        with ag.no_grad():
            out = OPS[op][0](params, *[o[1] if o[0] == 'c' else ag.Tensor(self.value(o)) for o in operands])
        out = np.asarray(out.data)
        if _fits(out):
            self.program.steps.append((op, operands, params))
            self.results.append(out)

    # each op_* returns (operands, params), or None when it does not apply to x
    def elementwise(self, op, x_op, x):
        domain = {'log': x.min() > 0.1, 'sqrt': x.min() > 0.1, 'abs': np.abs(x).min() > MARGIN,
                  'relu': np.abs(x).min() > MARGIN}
        return ([x_op], {}) if domain.get(op, True) else None

    def _binary(self, x_op, x, test=lambda v: True, low=-2.0, high=2.0):
        y_op = self.partner(x.shape, low, high, test)
        y = self.value(y_op)
        if not test(y):
            return None
        operands = [x_op, y_op]
        if y_op[0] == 'c' and self.draw(st.booleans()):
            operands.reverse()  # a number or array on the left: the reflected operators
        return operands

    def op_add(self, x_op, x):
        return self._binary(x_op, x), {}

    op_sub = op_mul = op_add

    def op_div(self, x_op, x):
        operands = self._binary(x_op, x, lambda v: np.abs(v).min() > 0.2)
        if operands is None or (operands[0][0] == 'c' and np.abs(x).min() <= 0.2):
            return None
        return operands, {}

    def op_pow(self, x_op, x):
        kind = self.draw(st.sampled_from(['int', 'real', 'tensor', 'base']))
        if kind == 'int':  # any base: 0, 1, 2, 3, and -1 away from 0
            k = self.draw(st.sampled_from([0, 1, 2, 3, -1, 2.0]))
            return ([x_op, ('c', k)], {}) if k != -1 or np.abs(x).min() > 0.2 else None
        if kind == 'base':  # 2 ** x, 0.5 ** x
            return [('c', self.draw(st.sampled_from([2.0, 0.5, 1.5]))), x_op], {}
        if x.min() <= 0.1:
            return None
        if kind == 'real':
            return [x_op, ('c', self.draw(st.sampled_from([0.5, -1.5, 1.5, 2.5])))], {}
        operands = self._binary(x_op, x, lambda v: np.abs(v).max() < 2.5)
        return (operands, {}) if operands is not None and operands[0] == x_op else None

    op_ag_pow = op_pow

    def op_maximum(self, x_op, x):
        operands = self._binary(x_op, x)
        if operands is None or np.abs(x - self.value(operands[1] if operands[0] == x_op else operands[0])).min() <= MARGIN:
            return None
        return operands, {}

    op_minimum = op_maximum

    def op_clip(self, x_op, x):
        method = self.draw(st.booleans())
        if self.draw(st.booleans()):  # number bounds, either may be None
            lo, hi = sorted(np.round(self.rng.uniform(-1.5, 1.5, size=2), 3))
            lo, hi = self.draw(st.sampled_from([(lo, hi), (None, hi), (lo, None)]))
            for b in (lo, hi):
                if b is not None and np.abs(x - b).min() <= MARGIN:
                    return None
            if lo is not None and hi is not None and hi - lo <= MARGIN:
                return None
            return [x_op], {'lo': lo, 'hi': hi, 'tensor_bounds': False, 'method': method}
        lo_op = self.partner(x.shape, -1.5, 0.0)
        hi_op = self.partner(x.shape, 0.0, 1.5)
        lo, hi = self.value(lo_op), self.value(hi_op)
        # bounds that broadcast to x's shape: torch.clamp's backward cannot make x larger
        # (ag.clip can: tests/test_reliability.py checks that)
        if not all(_broadcasts(b.shape, x.shape) and np.broadcast_shapes(b.shape, x.shape) == x.shape
                   for b in (lo, hi)):
            return None
        if (hi - lo).min() <= MARGIN or np.abs(x - lo).min() <= MARGIN or np.abs(x - hi).min() <= MARGIN:
            return None
        return [x_op, lo_op, hi_op], {'tensor_bounds': True, 'method': method}

    def op_where(self, x_op, x):
        y_op = self.partner(x.shape)
        shape = np.broadcast_shapes(x.shape, self.value(y_op).shape)
        cond = self.rng.random(self.sub_shape(shape)) < 0.5
        return [x_op, y_op], {'cond': cond}

    def _reduction(self, x_op, x, ties=False):
        axis = self.draw(axes(x.ndim))
        keepdims = self.draw(st.booleans())
        if ties:  # max, min: no near-tie among the extremes of each reduced slice
            for sign in (1, -1):
                top = (sign * x).max(axis=axis, keepdims=True)
                if (np.abs(sign * x - top) < MARGIN).sum(axis=axis).max() > 1:
                    return None
        return [x_op], {'axis': axis, 'keepdims': keepdims, 'method': self.draw(st.booleans())}

    def op_sum(self, x_op, x):
        return self._reduction(x_op, x)

    op_mean = op_logsumexp = op_sum

    def op_max(self, x_op, x):
        return self._reduction(x_op, x, ties=True)

    op_min = op_max

    def op_matmul(self, x_op, x):
        if x.ndim == 0:
            return None
        k = x.shape[-1]
        n = self.draw(st.integers(1, 3))
        options = [(k,), (k, n)]
        if x.ndim >= 2:  # batch dimensions that broadcast
            options += [(1, k, n), (2, k, n) if x.ndim == 2 else (x.shape[-3], k, n)]
        shape = self.draw(st.sampled_from(options))
        y_op = self.pick(lambda v: v.shape == shape) if self.draw(st.booleans()) else None
        if y_op is None:
            y_op = self.new_input(shape)
        return [x_op, y_op], {}

    op_ag_matmul = op_matmul

    def op_reshape(self, x_op, x):
        size = x.size
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        d = self.draw(st.sampled_from(divisors))
        shape = self.draw(st.sampled_from([(-1,), (size,), (d, -1), (d, size // d), (1, d, size // d),
                                           x.shape[::-1], (size // d, 1, d)]))
        return [x_op], {'shape': shape, 'method': self.draw(st.booleans())}

    def op_transpose(self, x_op, x):
        perm = self.draw(st.none() | st.permutations(range(x.ndim)).map(tuple))
        return [x_op], {'axes': perm, 'method': self.draw(st.booleans())}

    def op_swapaxes(self, x_op, x):
        if x.ndim == 0:
            return None
        return [x_op], {'a': self.axis(x.ndim), 'b': self.axis(x.ndim)}

    def op_squeeze(self, x_op, x):
        ones = [i for i, n in enumerate(x.shape) if n == 1]
        if not ones:
            return None
        axis = self.draw(st.sampled_from([None] + ones + [i - x.ndim for i in ones]))
        return [x_op], {'axis': axis}

    def op_expand_dims(self, x_op, x):
        return [x_op], {'axis': self.draw(st.integers(-x.ndim - 1, x.ndim))}

    def op_broadcast_to(self, x_op, x):
        lead = tuple(self.draw(st.lists(st.integers(1, 3), max_size=2)))
        shape = lead + tuple(self.draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
        return [x_op], {'shape': shape}

    def op_concatenate(self, x_op, x):
        if x.ndim == 0:
            return None
        axis = self.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
        operands = [x_op]
        for _ in range(self.draw(st.integers(0, 2))):
            if axis is None:
                shape = self.draw(shapes(max_dims=2, max_side=3))
            else:
                shape = list(x.shape)
                shape[axis] = self.draw(st.integers(1, 3))
                shape = tuple(shape)
            found = self.pick(lambda v: v.shape == shape) if self.draw(st.booleans()) else None
            operands.append(found or self.new_input(shape))
        return operands, {'axis': axis}

    def op_stack(self, x_op, x):
        operands = [x_op]
        for _ in range(self.draw(st.integers(0, 2))):
            found = self.pick(lambda v: v.shape == x.shape) if self.draw(st.booleans()) else None
            operands.append(found or self.new_input(x.shape))
        return operands, {'axis': self.draw(st.integers(-x.ndim - 1, x.ndim))}

    def op_softmax(self, x_op, x):
        return ([x_op], {'axis': self.axis(x.ndim)}) if x.ndim else None

    op_log_softmax = op_softmax

    def op_getitem(self, x_op, x):
        index = self.draw(indices(x.shape, self.rng))
        try:
            picked = x[index]
        except (IndexError, ValueError):  # (no such index: the strategy is loose)
            return None
        return ([x_op], {'index': index}) if np.size(picked) else None

    def op_linear(self, x_op, x):
        if x.ndim == 0:
            return None
        out = self.draw(st.integers(1, 3))
        w_op = self.new_input((x.shape[-1], out))
        b = self.draw(st.sampled_from(['none', 'input', 'array']))
        if b == 'none':
            return [x_op, w_op], {}
        return [x_op, w_op, self.new_input((out,)) if b == 'input' else ('c', self.rng.normal(size=out))], {}

    def op_cross_entropy(self, x_op, x):
        if x.ndim != 2:  # scores (N, C) of their own
            x_op = self.new_input((self.draw(st.integers(1, 3)), self.draw(st.integers(2, 4))))
            x = self.value(x_op)
        reduction = self.draw(st.sampled_from(['mean', 'sum', 'none']))
        if self.draw(st.booleans()):
            return [x_op, ('c', self.rng.integers(0, x.shape[1], size=x.shape[0]))], {'reduction': reduction}
        t_op = self.pick(lambda v: v.shape == x.shape) if self.draw(st.booleans()) else None
        return [x_op, t_op or self.new_input(x.shape, 0.0, 1.0)], {'reduction': reduction}

    def op_mse_loss(self, x_op, x):
        t_op = self.pick(lambda v: v.shape == x.shape) if self.draw(st.booleans()) else None
        if t_op is None:
            t_op = self.draw(st.sampled_from([self.new_input, lambda s: ('c', self.rng.uniform(-1, 1, size=s))]))(x.shape)
        return [x_op, t_op], {'reduction': self.draw(st.sampled_from(['mean', 'sum', 'none']))}

    op_bce_with_logits = op_mse_loss


@st.composite
def indices(draw, shape, rng):
    """A NumPy index for an array of ``shape``: ints, slices (negative steps too), None,
    Ellipsis, and advanced parts: an int array or list with repeats, a tuple of ints
    inside the index, a boolean mask."""
    ndim = len(shape)
    kind = draw(st.sampled_from(['basic', 'int array', 'mask', 'mixed']))
    if kind == 'mask' and ndim:
        mask = rng.random(shape if draw(st.booleans()) else shape[:1]) < 0.6
        return mask if mask.ndim == ndim or draw(st.booleans()) else (mask, Ellipsis)
    parts = []
    for n in shape:
        choice = draw(st.sampled_from(['int', 'slice', 'all', 'new', 'array' if kind != 'basic' else 'slice']))
        if choice == 'int':
            parts.append(draw(st.integers(-n, n - 1)))
        elif choice == 'slice':
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(draw(st.none() | st.integers(-n, n)), draw(st.none() | st.integers(-n - 1, n)), step))
        elif choice == 'all':
            parts.append(slice(None))
        elif choice == 'new':
            parts.extend([None, slice(None)])
        else:
            picked = [int(i) for i in rng.integers(-n, n, size=draw(st.integers(1, 4)))]
            parts.append(draw(st.sampled_from([np.array(picked), picked, tuple(picked)])))
    if parts and draw(st.booleans()):
        cut = draw(st.integers(0, len(parts) - 1))
        parts = parts[:cut] + [Ellipsis] if draw(st.booleans()) else parts[:cut + 1]
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


@st.composite
def programs(draw, max_steps=8):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    builder = Builder(draw(st.data()), rng)
    for _ in range(draw(st.integers(1, 2))):
        builder.new_input(draw(shapes(max_dims=3, max_side=3)))
    n_steps = int(rng.integers(1, max_steps + 1))
    for _ in range(3 * n_steps):
        if len(builder.program.steps) >= n_steps:
            break
        builder.step()
    program = builder.program
    steps = [('s', j) for j in range(len(builder.results))] or [('i', 0)]
    others = draw(st.lists(st.sampled_from(steps), max_size=2, unique=True))
    program.outputs = sorted({steps[-1], *others})
    # random weights of the scalar, and the HVP's direction per input
    program.weights = [rng.normal(size=builder.value(o).shape) for o in program.outputs]
    program.directions = [rng.normal(size=a.shape) for a in program.inputs]
    return program


# -- the check --------------------------------------------------------------------------------
def _as_numpy(g, shape):
    if g is None or (isinstance(g, torch.Tensor) and g._is_zerotensor()):
        # torch 2.13 returns the zero second derivatives of abs/relu through cat as a
        # ZeroTensor, and .numpy(force=True) of one of those crashes the interpreter
        return np.zeros(shape)
    return g.detach().numpy(force=True) if isinstance(g, torch.Tensor) else np.asarray(g.data)


def _dot(pairs):
    """sum_k <a_k, w_k> over the pairs whose a_k is not None (None when there is none)."""
    total = None
    for a, w in pairs:
        if a is not None:
            term = (a * w).sum()
            total = term if total is None else total + term
    return total


def _differentiate(lib, program):
    """(results, gradients, HVPs) of ``program`` computed by ``lib``."""
    if lib == 'ag':
        xs = [ag.Tensor(a, requires_grad=True) for a in program.inputs]
        const, grad = (lambda w: w), (lambda out, ins, **kw: ag.grad(out, ins, allow_unused=True, **kw))
    else:
        xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in program.inputs]
        const, grad = torch.tensor, (lambda out, ins, **kw: torch.autograd.grad(out, ins, allow_unused=True, **kw))
    results = run(program, lib, xs)
    pick = lambda o: xs[o[1]] if o[0] == 'i' else results[o[1]]  # noqa: E731
    nothing = [None] * len(xs)
    loss = _dot((pick(o), const(w)) for o, w in zip(program.outputs, program.weights))
    if not loss.requires_grad:
        return results, nothing, nothing
    grads = grad(loss, xs, create_graph=True)
    h = _dot((g, const(v)) for g, v in zip(grads, program.directions))
    hvps = grad(h, xs) if h is not None and h.requires_grad else nothing
    return results, grads, hvps


def check_program(program):
    note(repr(program))
    results, grads, hvps = _differentiate('ag', program)
    tresults, tgrads, thvps = _differentiate('torch', program)
    for j, (v, tv) in enumerate(zip(results, tresults)):
        tv = tv.detach().numpy(force=True)
        assert v.shape == tv.shape, f"v{j}: shape {v.shape} against torch's {tv.shape}"
        np.testing.assert_allclose(v.data, tv, rtol=1e-9, atol=1e-11, err_msg=f"value of v{j}")
    for k, a in enumerate(program.inputs):
        np.testing.assert_allclose(_as_numpy(grads[k], a.shape), _as_numpy(tgrads[k], a.shape),
                                   rtol=1e-8, atol=1e-10, err_msg=f"gradient in x{k}")
        np.testing.assert_allclose(_as_numpy(hvps[k], a.shape), _as_numpy(thvps[k], a.shape),
                                   rtol=1e-7, atol=1e-9, err_msg=f"Hessian-vector product in x{k}")


QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# a program may well feed a sigmoid into the loss on logits: the warning is right, and beside the point
pytestmark = pytest.mark.filterwarnings('ignore:binary_cross_entropy_with_logits. the input is the output')


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=QUIET)
@given(program=programs())
def test_random_programs_match_torch(program):
    check_program(program)


def _long_run_selected(config):
    # -m fuzz_long (or an expression naming it, but not "not fuzz_long"), or the variable
    named = re.search(r'(?<!not )\bfuzz_long\b', config.getoption('markexpr') or '')
    return named is not None or bool(os.environ.get('AG_FUZZ_LONG'))


_LONG = os.environ.get('AG_FUZZ_LONG', '')


@settings(max_examples=int(_LONG) if _LONG.isdigit() and int(_LONG) > 1 else 5000, derandomize=False,
          deadline=None, suppress_health_check=QUIET)
@given(program=programs(max_steps=14))
def _long_run(program):
    check_program(program)


@pytest.mark.fuzz_long
def test_random_programs_match_torch_long(request):
    if not _long_run_selected(request.config):
        pytest.skip("the long fuzz run: select it with -m fuzz_long or AG_FUZZ_LONG=1")
    _long_run()


def test_every_exported_op_is_drawn():
    """A new op in autograd_lite.__all__ must be added to OPS (and a Builder.op_* if it needs one)."""
    exported = {n for n in ag.__all__ if isinstance(getattr(ag, n), ag.Primitive)
                or getattr(getattr(ag, n), '__module__', None) == 'autograd_lite.ops'}
    drawn = {op.split('.')[-1] for op in OPS}
    assert len(exported) >= 28 and sorted(exported - drawn) == []
