"""The differentiable primitives: each forward beside its gradient rules.

A rule ``lambda g, ans, x, y: ...`` returns the gradient for one input given the
upstream gradient ``g`` and the output ``ans``; the engine undoes broadcasting
(:func:`engine.unbroadcast`) afterwards. Rules use only arithmetic, ndarray-style
methods (``sum``, ``reshape``, ``T``) and ``prim.on_any(...)``, so each runs on plain
arrays and, for higher-order gradients, on Tensors. Masks from comparisons are constants.
"""
import builtins

import numpy as np

from . import errors
from .engine import Binary, Primitive, Unary, unbroadcast
from .tensor import Tensor, _value


def primitive(name, fwd, *vjps, explain=None):
    return Primitive(name, fwd, vjps, explain)


def unary(name, fwd, vjp):
    """An elementwise function of one input, without static arguments (a faster call);
    its gradient has the input's shape, so the engine need not unbroadcast it."""
    return Unary(name, fwd, (vjp,), broadcasts=False)


def binary(name, fwd, vjp_x, vjp_y, explain=None, broadcasts=True):
    """An op of two inputs, without static arguments (a faster call)."""
    return Binary(name, fwd, (vjp_x, vjp_y), explain, broadcasts)


# -- elementwise arithmetic ---------------------------------------------------------------
add = binary('add', np.add,
             lambda g, ans, x, y: g,
             lambda g, ans, x, y: g)
sub = binary('sub', np.subtract,
             lambda g, ans, x, y: g,
             lambda g, ans, x, y: -g)
mul = binary('mul', np.multiply,
             lambda g, ans, x, y: g * y,
             lambda g, ans, x, y: g * x)
div = binary('div', np.true_divide,
             lambda g, ans, x, y: g / y,
             lambda g, ans, x, y: -g * ans / y)
neg = unary('neg', np.negative,
            lambda g, ans, x: -g)


def _pow_exponent_grad(g, ans, x, y):
    # d(x**y)/dy = x**y * log(x), defined for x > 0; taken as 0 elsewhere (as at x = 0).
    positive = _value(x) > 0
    return g * ans * log.on_any(_where.on_any(positive, x, 1.0)) * positive


pow = binary('pow', np.power,
             lambda g, ans, x, y: g * y * x ** (y - 1),
             _pow_exponent_grad)

# -- elementwise functions ------------------------------------------------------------------
exp = unary('exp', np.exp,
            lambda g, ans, x: g * ans)
log = unary('log', np.log,
            lambda g, ans, x: g / x)
sqrt = unary('sqrt', np.sqrt,
             lambda g, ans, x: g * 0.5 / ans)
abs = unary('abs', np.abs,
            lambda g, ans, x: g * np.sign(_value(x)))
tanh = unary('tanh', np.tanh,
             lambda g, ans, x: g * (1 - ans * ans))


def _sigmoid(x):
    # 1 / (1 + exp(-x)) is accurate for every x: exp(-x) can only overflow, to inf, where
    # x < -709 (float64; -88 for float32), and there the result is 0 to within the smallest
    # subnormal. Ignoring that one warning is cheaper than exp(-|x|) and a where.
    with np.errstate(over='ignore'):
        return 1.0 / (1.0 + np.exp(-x))


sigmoid = unary('sigmoid', _sigmoid,
                lambda g, ans, x: g * ans * (1 - ans))
relu = unary('relu', lambda x: np.maximum(x, 0),
             lambda g, ans, x: g * (_value(x) > 0))


def _tie_mask(x, y, dtype):
    """Share of the gradient that goes to x in maximum(x, y): 1 where x wins, 1/2 on ties."""
    x, y = _value(x), _value(y)
    return np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)).astype(dtype, copy=False)


maximum = binary('maximum', np.maximum,
                 lambda g, ans, x, y: g * _tie_mask(x, y, g.dtype),
                 lambda g, ans, x, y: g * _tie_mask(y, x, g.dtype))
minimum = binary('minimum', np.minimum,
                 lambda g, ans, x, y: g * _tie_mask(y, x, g.dtype),
                 lambda g, ans, x, y: g * _tie_mask(x, y, g.dtype))


def _clip_fwd(x, min=None, max=None):
    if min is None and max is None:
        return x.copy()
    return np.clip(x, min, max)


def _clip_grad(g, ans, x, min=None, max=None):
    x = _value(x)
    inside = np.ones(x.shape, dtype=bool)  # the gradient passes where x was not clipped
    if min is not None:
        inside &= x >= min
    if max is not None:
        inside &= x <= max
    return g * inside


_clip = primitive('clip', _clip_fwd, _clip_grad)


def clip(x, min=None, max=None):
    """Limit x to [min, max]; the gradient is 1 inside (bounds included), 0 outside."""
    return _clip(x, min=min, max=max)


def _where_fwd(cond, x, y):
    return np.where(cond, x, y)


_where = primitive('where', _where_fwd,
                   None,  # the condition is not differentiable
                   lambda g, ans, cond, x, y: _where.on_any(cond, g, 0.0),
                   lambda g, ans, cond, x, y: _where.on_any(cond, 0.0, g))


def where(cond, x, y):
    """x where cond is true, else y (broadcast together); cond is a constant mask."""
    return _where(np.asarray(_value(cond), dtype=bool), x, y)


astype = primitive('astype', lambda x, dtype: x.astype(dtype),
                   lambda g, ans, x, dtype: g.astype(x.dtype))


# -- matrix product --------------------------------------------------------------------------
def _matmul_explain(a, b):
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 0 or len(sb) == 0:
        return f"matmul: shapes {sa} and {sb}: both operands must be at least 1-D (use * for a scalar)"
    inner_a = sa[-1]
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if inner_a != inner_b:
        return (f"matmul: shapes {sa} and {sb} are not aligned: "
                f"inner dimensions {inner_a} and {inner_b} differ")
    return (f"matmul: shapes {sa} and {sb} have batch dimensions {sa[:-2]} and {sb[:-2]} "
            "that cannot be broadcast together")


def _as_matrices(g, a, b):
    """NumPy treats a 1-D operand of matmul as a row (left) or column (right) vector;
    view a, b and the output gradient g that way so the 2-D rules apply."""
    if a.ndim == 1 and b.ndim == 1:
        return g.reshape((1, 1)), a.reshape((1, -1)), b.reshape((-1, 1))
    if a.ndim == 1:
        return g.reshape(g.shape[:-1] + (1, g.shape[-1])), a.reshape((1, -1)), b
    if b.ndim == 1:
        return g.reshape(g.shape + (1,)), a, b.reshape((-1, 1))
    return g, a, b


def _matmul_grad_a(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T
    g2, a2, b2 = _as_matrices(g, a, b)
    return unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)


def _matmul_grad_b(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    return unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)


matmul = binary('matmul', np.matmul, _matmul_grad_a, _matmul_grad_b, explain=_matmul_explain,
                broadcasts=False)  # its rules return each input's shape themselves


# -- reductions ----------------------------------------------------------------------------
def _axes(axis, ndim):
    """Normalise a reduction's axis argument (None, int or tuple) to a tuple of indices."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(a % ndim if -ndim <= a < ndim else a for a in axis)


def _kept(g, x, axis, keepdims):
    """Give the reduced gradient g back the size-1 axes that the reduction removed."""
    if keepdims:
        return g
    axes = _axes(axis, x.ndim)
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


def _reduction(name, fwd, rule):
    prim = primitive(name, fwd, rule)

    def reduce(x, axis=None, keepdims=False):
        if isinstance(axis, list):
            axis = tuple(axis)
        return prim(x, axis=axis, keepdims=keepdims)
    reduce.__name__ = name
    reduce.primitive = prim
    return reduce


def _count(x, axis):
    """How many elements of x each result of a reduction over ``axis`` combines."""
    if axis is None:
        return x.size
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return count


def _spread(g, x, axis, keepdims):
    """The reduced gradient g repeated over the axes the reduction combined: shape x.shape.

    On arrays a new array: NumPy fills one faster than np.broadcast_to makes its view."""
    if isinstance(g, Tensor):
        return broadcast_to(_kept(g, x, axis, keepdims), x.shape)
    out = np.empty(x.shape, dtype=g.dtype)
    out[...] = g if axis is None or keepdims else _kept(g, x, axis, keepdims)
    return out


def _sum_grad(g, ans, x, axis, keepdims):
    return _spread(g, x, axis, keepdims)


def _mean_fwd(x, axis=None, keepdims=False):
    # np.mean's Python wrapper costs more than the sum itself on small arrays; for float32
    # and float64 it computes exactly this (float16 and integers take np.mean's own path).
    if x.dtype.kind == 'f' and x.dtype.itemsize >= 4:
        return np.add.reduce(x, axis=axis, keepdims=keepdims) / _count(x, axis)
    return np.mean(x, axis=axis, keepdims=keepdims)


def _mean_grad(g, ans, x, axis, keepdims):
    return _spread(g / _count(x, axis), x, axis, keepdims)


def _extreme_grad(g, ans, x, axis, keepdims):
    # Ties share the gradient equally: each of k tied extremes gets g / k.
    hit = _value(x) == _value(_kept(ans, x, axis, keepdims))
    share = (hit / hit.sum(axis=axis, keepdims=True)).astype(g.dtype, copy=False)
    return _kept(g, x, axis, keepdims) * share


def _logsumexp_fwd(x, axis=None, keepdims=False):
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # rows of -inf stay -inf instead of becoming NaN
    out = np.log(np.add.reduce(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _logsumexp_grad(g, ans, x, axis, keepdims):
    return _kept(g, x, axis, keepdims) * exp.on_any(x - _kept(ans, x, axis, keepdims))


# np.sum, np.max and np.min are Python wrappers that call these ufunc reductions with the same
# arguments; on small arrays the wrapper costs more than the arithmetic.
sum = _reduction('sum', np.add.reduce, _sum_grad)
mean = _reduction('mean', _mean_fwd, _mean_grad)
max = _reduction('max', np.maximum.reduce, _extreme_grad)
min = _reduction('min', np.minimum.reduce, _extreme_grad)
logsumexp = _reduction('logsumexp', _logsumexp_fwd, _logsumexp_grad)


# -- softmax family ------------------------------------------------------------------------------
def _softmax_fwd(x, axis=-1):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    return e / np.add.reduce(e, axis=axis, keepdims=True)


def _log_softmax_fwd(x, axis=-1):
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


_softmax = primitive('softmax', _softmax_fwd,
                     lambda g, ans, x, axis: ans * (g - (g * ans).sum(axis=axis, keepdims=True)))
_log_softmax = primitive('log_softmax', _log_softmax_fwd,
                         lambda g, ans, x, axis: g - exp.on_any(ans) * g.sum(axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, computed without overflow."""
    return _softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``: log-probabilities, stable for large |x|."""
    return _log_softmax(x, axis=axis)


# -- shape ----------------------------------------------------------------------------------------
def _reshape_explain(x, shape):
    return (f"reshape: cannot reshape a tensor of shape {np.shape(x)} ({np.size(x)} elements) "
            f"into shape {shape}")


def _same_shape_as_input(g, ans, x, **static):
    return g.reshape(x.shape)


_reshape = primitive('reshape', lambda x, shape: np.reshape(x, shape), _same_shape_as_input,
                     explain=_reshape_explain)
_squeeze = primitive('squeeze', lambda x, axis: np.squeeze(x, axis), _same_shape_as_input)
_expand_dims = primitive('expand_dims', lambda x, axis: np.expand_dims(x, axis), _same_shape_as_input)


def reshape(x, shape):
    """The same elements in a new shape (one dimension may be -1)."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    return _reshape(x, shape=tuple(shape))


def squeeze(x, axis=None):
    return _squeeze(x, axis=axis)


def expand_dims(x, axis):
    return _expand_dims(x, axis=axis)


def _transpose_grad(g, ans, x, axes):
    if axes is None:
        return g.transpose()
    return g.transpose(tuple(np.argsort(axes)))


_transpose = primitive('transpose', lambda x, axes: np.transpose(x, axes), _transpose_grad)


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None, as ``.T`` does)."""
    if axes is not None:
        axes = tuple(a % np.ndim(_value(x)) if a < 0 else a for a in axes)
    return _transpose(x, axes=axes)


def swapaxes(x, axis1, axis2):
    axes = list(range(np.ndim(_value(x))))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def _broadcast_to_explain(x, shape):
    return errors.broadcast_message('broadcast_to', [np.shape(x), tuple(shape)])


_broadcast_to = primitive('broadcast_to', lambda x, shape: np.broadcast_to(x, shape),
                          lambda g, ans, x, shape: unbroadcast(g, x.shape),
                          explain=_broadcast_to_explain)


def broadcast_to(x, shape):
    """Repeat x along size-1 (or missing leading) axes to ``shape``; a read-only view for arrays."""
    if not isinstance(x, Tensor):  # inside gradient rules on plain arrays (or NumPy scalars)
        return np.broadcast_to(x, shape)
    return _broadcast_to(x, shape=tuple(shape))


def _section(axis, ndim, index):
    """An index selecting ``index`` (an int or slice) along ``axis``."""
    return (slice(None),) * (axis % ndim) + (index,)


def _offsets(shapes, axis):
    bounds = np.cumsum([0] + [s[axis] for s in shapes])
    return bounds[:-1], bounds[1:]


class _PerInput:
    """vjps for ops taking any number of inputs: vjps[i] is ``rule(i, ...)``."""
    __slots__ = ('rule',)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        return lambda g, ans, *xs, **static: self.rule(i, g, ans, *xs, **static)


def _concatenate_grad(i, g, ans, *xs, axis):
    starts, stops = _offsets([x.shape for x in xs], axis)
    return g[_section(axis, g.ndim, slice(int(starts[i]), int(stops[i])))]


def _concatenate_explain(*xs, axis):
    shapes = [np.shape(x) for x in xs]
    return (f"concatenate: shapes {' and '.join(map(str, shapes))} cannot be joined along axis {axis}: "
            "all dimensions except that axis must match")


_concatenate = Primitive('concatenate', lambda *xs, axis: np.concatenate(xs, axis),
                         _PerInput(_concatenate_grad), _concatenate_explain)
_stack = Primitive('stack', lambda *xs, axis: np.stack(xs, axis),
                   _PerInput(lambda i, g, ans, *xs, axis: g[_section(axis, g.ndim, i)]),
                   lambda *xs, axis: (f"stack: shapes {' and '.join(str(np.shape(x)) for x in xs)} "
                                      "must all be equal"))


def _need_one(op_name, tensors):
    """``tensors`` as a list (any iterable is fine), refusing an empty one with a clear message."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op_name}: needs at least one tensor, got none")
    return tensors


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None``: flatten them first, as NumPy)."""
    tensors = _need_one('concatenate', tensors)
    if axis is None:
        tensors, axis = [reshape(t, -1) for t in tensors], 0
    return _concatenate(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    tensors = _need_one('stack', tensors)
    return _stack(*tensors, axis=axis)


# -- indexing --------------------------------------------------------------------------------------
def _has_int_array(index):
    """True when the index may select one element twice (integer arrays): then the
    gradient must be accumulated with np.add.at instead of assigned."""
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype.kind in 'iu'
                        for p in parts)


def _scatter_fwd(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if _has_int_array(index):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] = g
    return out


# scatter is getitem's adjoint: it puts g back where getitem took the elements from.
scatter = primitive('scatter', _scatter_fwd,
                    lambda g, ans, src, index, shape: g[index])
_getitem = primitive('getitem', lambda x, index: x[index],
                     lambda g, ans, x, index: scatter.on_any(g, index=index, shape=x.shape))


def _plain_index(index):
    """Tensors inside an index become their arrays (indices are not differentiable)."""
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)


def getitem(x, index):
    """x[index] with NumPy's basic and advanced indexing (slices, int arrays, boolean masks)."""
    return _getitem(x, index=_plain_index(index))
