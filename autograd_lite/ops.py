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
from .engine import REQUIRED, Primitive, _constant, unbroadcast
from .tensor import Tensor, _value


def elementwise(name, fwd, rule):
    """A function of one input, elementwise: its gradient has the input's shape, so the
    engine need not unbroadcast it."""
    return Primitive(name, fwd, (rule,), broadcasts=False)


# -- elementwise arithmetic ---------------------------------------------------------------
add = Primitive('add', np.add, (
    lambda g, ans, x, y: g,
    lambda g, ans, x, y: g))
sub = Primitive('sub', np.subtract, (
    lambda g, ans, x, y: g,
    lambda g, ans, x, y: -g))
mul = Primitive('mul', np.multiply, (
    lambda g, ans, x, y: g * y,
    lambda g, ans, x, y: g * x))
div = Primitive('div', np.true_divide, (
    lambda g, ans, x, y: g / y,
    lambda g, ans, x, y: -g * ans / y))
neg = elementwise('neg', np.negative,
                  lambda g, ans, x: -g)


def _pow_exponent_grad(g, ans, x, y):
    # d(x**y)/dy = x**y * log(x), defined for x > 0; taken as 0 elsewhere (as at x = 0).
    positive = _value(x) > 0
    return g * ans * log.on_any(where.on_any(positive, x, 1.0)) * positive


def _pow_base_grad(g, ans, x, y):
    # d(x**y)/dx = y x**(y-1), and 0 where y == 0 (as PyTorch): not 0 * x**-1, NaN at x = 0.
    # Such exponents become 1 before the power, so no inf appears (x**0's second derivative too).
    zero = _value(y) == 0
    exponent = where.on_any(zero, 1.0, y - 1) if np.any(zero) else y - 1
    return g * y * x ** exponent


pow = Primitive('pow', np.power, (_pow_base_grad, _pow_exponent_grad))

# -- elementwise functions ------------------------------------------------------------------
exp = elementwise('exp', np.exp,
                  lambda g, ans, x: g * ans)
log = elementwise('log', np.log,
            lambda g, ans, x: g / x)
sqrt = elementwise('sqrt', np.sqrt,
             lambda g, ans, x: g * 0.5 / ans)
abs = elementwise('abs', np.abs,  # sign(x), and 0 where x is NaN (as PyTorch)
                  lambda g, ans, x: g * np.nan_to_num(np.sign(_value(x)), nan=0.0))
tanh = elementwise('tanh', np.tanh,
             lambda g, ans, x: g * (1 - ans * ans))


def _sigmoid(x):
    # 1 / (1 + exp(-x)) is accurate for every x: exp(-x) can only overflow, to inf, where
    # x < -709 (float64; -88 for float32), and there the result is 0 to within the smallest
    # subnormal. Ignoring that one warning is cheaper than exp(-|x|) and a where.
    with np.errstate(over='ignore'):
        return 1.0 / (1.0 + np.exp(-x))


sigmoid = elementwise('sigmoid', _sigmoid,
                lambda g, ans, x: g * ans * (1 - ans))
relu = elementwise('relu', lambda x: np.maximum(x, 0),  # 1 where x > 0 or NaN (as PyTorch)
                   lambda g, ans, x: g * ~(_value(x) <= 0))


def _tie_mask(x, y, dtype):
    """Share of the gradient that goes to x in maximum(x, y): 1 where x wins, 1/2 on ties."""
    x, y = _value(x), _value(y)
    return np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)).astype(dtype, copy=False)


maximum = Primitive('maximum', np.maximum, (
    lambda g, ans, x, y: g * _tie_mask(x, y, g.dtype),
    lambda g, ans, x, y: g * _tie_mask(y, x, g.dtype)))
minimum = Primitive('minimum', np.minimum, (
    lambda g, ans, x, y: g * _tie_mask(y, x, g.dtype),
    lambda g, ans, x, y: g * _tie_mask(x, y, g.dtype)))


def _clip_fwd(x, low, high):
    return np.minimum(np.maximum(x, low), high)


def _clip_masks(x, low, high):
    """Where the gradient goes in min(max(x, low), high), as torch.clamp sends it: to x inside
    [low, high] (bounds included), to low below it, to high above it or where high < low
    (where low == high and x is outside, the result is a constant: no gradient)."""
    x, low, high = _value(x), _value(low), _value(high)
    return (x >= low) & (x <= high), (x < low) & (low < high), (x > high) | (high < low)


_clip = Primitive('clip', _clip_fwd, (
    lambda g, ans, x, low, high: g * _clip_masks(x, low, high)[0],
    lambda g, ans, x, low, high: g * _clip_masks(x, low, high)[1],
    lambda g, ans, x, low, high: g * _clip_masks(x, low, high)[2]))


def clip(x, min=None, max=None):
    """Limit x to [min, max] (numbers, arrays or Tensors, broadcast against x; None: no
    limit). The gradient goes to x inside the bounds, bounds included, and to a bound where
    it clips (as torch.clamp)."""
    return _clip(x, -np.inf if min is None else min, np.inf if max is None else max)


# x where cond is true, else y (broadcast together); cond is a constant mask.
where = Primitive('where', np.where, (
    None,  # the condition is not differentiable
    lambda g, ans, cond, x, y: where.on_any(cond, g, 0.0),
    lambda g, ans, cond, x, y: where.on_any(cond, 0.0, g)))

astype = Primitive('astype', lambda x, dtype: x.astype(dtype),
                   (lambda g, ans, x, dtype: g.astype(x.dtype),), static={'dtype': REQUIRED})


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


matmul = Primitive('matmul', np.matmul, (_matmul_grad_a, _matmul_grad_b), explain=_matmul_explain,
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
    """A reduction ``name(x, axis=None, keepdims=False)``, as NumPy's."""
    return Primitive(name, fwd, (rule,), static={'axis': None, 'keepdims': False})


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
    if keepdims.__class__ is not bool and not isinstance(keepdims, np.bool_):  # (NumPy's reductions check theirs)
        raise TypeError(f"keepdims must be True or False, got {type(keepdims).__name__} {keepdims!r:.40}")
    m = np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)  # empty: -inf, as PyTorch
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
# initial=-inf: a length-0 axis gives an empty result (as PyTorch), not NumPy's reduction error
def _softmax_fwd(x, axis=-1):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.add.reduce(e, axis=axis, keepdims=True)


def _log_softmax_fwd(x, axis=-1):
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


# exp(x) / sum(exp(x)) along ``axis``, computed without overflow.
softmax = Primitive('softmax', _softmax_fwd, (
    lambda g, ans, x, axis: ans * (g - (g * ans).sum(axis=axis, keepdims=True)),), static={'axis': -1})
# x - logsumexp(x) along ``axis``: log-probabilities, stable for large |x|.
log_softmax = Primitive('log_softmax', _log_softmax_fwd, (
    lambda g, ans, x, axis: g - exp.on_any(ans) * g.sum(axis=axis, keepdims=True),), static={'axis': -1})


# -- shape ----------------------------------------------------------------------------------------
def _reshape_explain(x, shape):
    return (f"reshape: cannot reshape a tensor of shape {np.shape(x)} ({np.size(x)} elements) "
            f"into shape {shape}")


def _same_shape_as_input(g, ans, x, **static):
    return g.reshape(x.shape)


_reshape = Primitive('reshape', lambda x, shape: np.reshape(x, shape), (_same_shape_as_input,),
                     explain=_reshape_explain, static={'shape': REQUIRED})
squeeze = Primitive('squeeze', lambda x, axis: np.squeeze(x, axis), (_same_shape_as_input,),
                    static={'axis': None})
expand_dims = Primitive('expand_dims', lambda x, axis: np.expand_dims(x, axis), (_same_shape_as_input,),
                        static={'axis': REQUIRED})


def _shape_arg(op_name, shape, smallest):
    """``shape`` (an int or a sequence of ints, each >= ``smallest``) as a tuple, or a clear error."""
    if shape.__class__ is tuple:  # [speed] the usual case, a tuple of Python ints: one pass
        for n in shape:
            if n.__class__ is not int or n < smallest:
                break
        else:
            return shape
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (int(shape),)
    elif not isinstance(shape, (tuple, list)):
        raise TypeError(f"{op_name}: shape must be a tuple of ints, e.g. (2, 3), "
                        f"got {type(shape).__name__} {shape!r:.40}")
    for n in shape:
        if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
            raise TypeError(f"{op_name}: shape must be a tuple of ints, e.g. (2, 3), got {tuple(shape)!r:.60} "
                            f"(a {type(n).__name__} in it)")
        if n < smallest:
            raise ValueError(f"{op_name}: shape {tuple(shape)} has size {n}; sizes must be non-negative"
                             + (", or -1 for the one size inferred from the others" if smallest == -1 else ""))
    return tuple(shape)


def reshape(x, shape):
    """The same elements in a new shape (one dimension may be -1)."""
    return _reshape(x, _shape_arg('reshape', shape, -1))


def _transpose_grad(g, ans, x, axes):
    if axes is None:
        return g.transpose()
    return g.transpose(tuple(np.argsort(axes)))


_transpose = Primitive('transpose', lambda x, axes: np.transpose(x, axes), (_transpose_grad,),
                       static={'axes': None})


def _axis_index(op_name, axis, ndim, what='axis'):
    """``axis`` as an index in [0, ndim), or a clear error naming the op and the fix."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op_name}: {what} must be an integer, got {type(axis).__name__} {axis!r}")
    if not -ndim <= axis < ndim:
        raise IndexError(f"{op_name}: {what} {axis} is out of range for a tensor with {ndim} dimensions; "
                         f"use an axis from {-ndim} to {ndim - 1}" if ndim else
                         f"{op_name}: a 0-d tensor has no axes to move")
    return int(axis) % ndim


def _ndim(op_name, x):
    """How many dimensions x has; an operand that is no Tensor or array is checked first."""
    if not isinstance(x, (Tensor, np.ndarray)):
        x = _constant(x, op_name)
    return x.ndim


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None, as ``.T`` does)."""
    if axes is not None:
        ndim = _ndim('transpose', x)
        axes = tuple(_axis_index('transpose', a, ndim, 'each of axes') for a in axes)
        if sorted(axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {axes} must name each of the {ndim} axes once, "
                             f"e.g. {tuple(reversed(range(ndim)))}")
    return _transpose(x, axes)


def swapaxes(x, axis1, axis2):
    ndim = _ndim('swapaxes', x)
    axes = list(range(ndim))
    axis1, axis2 = _axis_index('swapaxes', axis1, ndim, 'axis1'), _axis_index('swapaxes', axis2, ndim, 'axis2')
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def _broadcast_to_explain(x, shape):
    return errors.broadcast_message('broadcast_to', [np.shape(x), tuple(shape)])


_broadcast_to = Primitive('broadcast_to', lambda x, shape: np.broadcast_to(x, shape),
                          (lambda g, ans, x, shape: unbroadcast(g, x.shape),),
                          explain=_broadcast_to_explain, static={'shape': REQUIRED})


def broadcast_to(x, shape):
    """Repeat x along size-1 (or missing leading) axes to ``shape``; a read-only view for arrays."""
    shape = _shape_arg('broadcast_to', shape, 0)
    if x.__class__ is np.ndarray and x.dtype.kind in 'fiub':  # inside gradient rules on plain arrays
        return np.broadcast_to(x, shape)
    return _broadcast_to(x, shape)  # (checks and converts anything else, as every op does)


def _section(axis, ndim, index):
    """An index selecting ``index`` (an int or slice) along ``axis``."""
    return (slice(None),) * (axis % ndim) + (index,)


def _join_grad(i, g, ans, xs, axis, saved):
    """Input i's part of a join's output gradient g: ``saved[i]`` is where it lies along axis."""
    return g[_section(axis, g.ndim, saved[i])]


class _PerInput:
    """The rules of an op of any number of inputs: ``vjps[i]`` is ``rule`` for input i."""
    __slots__ = ('rule',)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        return lambda g, ans, xs, **static: self.rule(i, g, ans, xs, **static)


def _concatenate_fwd(*xs, axis):
    stops = np.cumsum([np.shape(x)[axis] for x in xs]).tolist()
    # saved: each input's slice of the output, so that each rule costs O(1) (a linear backward)
    return np.concatenate(xs, axis), [slice(stop - np.shape(x)[axis], stop) for x, stop in zip(xs, stops)]


def _concatenate_explain(*xs, axis):
    shapes = [np.shape(x) for x in xs]
    return (f"concatenate: shapes {' and '.join(map(str, shapes))} cannot be joined along axis {axis}: "
            "all dimensions except that axis must match")


_concatenate = Primitive('concatenate', _concatenate_fwd, _PerInput(_join_grad), _concatenate_explain,
                         static={'axis': 0}, saves=True, variadic=True)
# Join same-shaped tensors along a new axis; input i is the output's index i along it.
_stack = Primitive('stack', lambda *xs, axis: (np.stack(xs, axis), range(len(xs))), _PerInput(_join_grad),
                  lambda *xs, axis: f"stack: shapes {' and '.join(str(np.shape(x)) for x in xs)} must all be equal",
                  static={'axis': 0}, saves=True, variadic=True)


def _sequence(op_name, tensors):
    """The tensors to join (any iterable but a str or a dict) as a list."""
    if isinstance(tensors, (list, tuple)):
        return tensors
    if isinstance(tensors, (str, bytes, dict)) or not hasattr(tensors, '__iter__'):
        raise TypeError(f"{op_name}: tensors must be a list or tuple of tensors, e.g. [x, y], "
                        f"got {type(tensors).__name__} {tensors!r:.40}")
    return list(tensors)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis ``axis``."""
    return _stack(_sequence('stack', tensors), axis)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None``: flatten them first, as NumPy)."""
    tensors = _sequence('concatenate', tensors)
    if axis is None:
        tensors, axis = [reshape(t, -1) for t in tensors], 0
    return _concatenate(tensors, axis)


# -- indexing --------------------------------------------------------------------------------------
def _has_int_array(index):
    """True when the index may select one element twice (integer arrays, lists, or tuples
    inside a tuple index: NumPy's advanced indexing): then the gradient must be accumulated
    with np.add.at instead of assigned."""
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(p, (list, tuple, np.ndarray)) and np.asarray(p).dtype.kind in 'iu'
                        for p in parts)


def _scatter_fwd(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if _has_int_array(index):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] = g
    return out


# scatter is getitem's adjoint: it puts g back where getitem took the elements from.
scatter = Primitive('scatter', _scatter_fwd, (lambda g, ans, src, index, shape: g[index],),
                    static={'index': REQUIRED, 'shape': REQUIRED})
_getitem = Primitive('getitem', lambda x, index: x[index],
                     (lambda g, ans, x, index: scatter.on_any(g, index=index, shape=x.shape),),
                     static={'index': REQUIRED})


def _plain_index(index):
    """Tensors inside an index become their arrays (indices are not differentiable)."""
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)


def getitem(x, index):
    """x[index] with NumPy's basic and advanced indexing (slices, int arrays, boolean masks)."""
    return _getitem(x, _plain_index(index))


# -- NumPy's other functions (issue 12) --------------------------------------------------------
# The primitives that np.sin(t), np.prod(t), np.einsum(...) dispatch to (autograd_lite.numpy_api
# maps NumPy's signatures onto them). Functions that are compositions of primitives (var,
# tensordot, tile, ...) are written there, not here.
_LN2, _LN10 = 0.6931471805599453, 2.302585092994046  # Python floats: they keep float32 float32

square = elementwise('square', np.square, lambda g, ans, x: g * 2 * x)
cbrt = elementwise('cbrt', np.cbrt, lambda g, ans, x: g / (3 * ans * ans))
reciprocal = elementwise('reciprocal', np.reciprocal, lambda g, ans, x: -g * ans * ans)
positive = elementwise('positive', np.positive, lambda g, ans, x: g)  # a copy, recorded
exp2 = elementwise('exp2', np.exp2, lambda g, ans, x: g * ans * _LN2)
expm1 = elementwise('expm1', np.expm1, lambda g, ans, x: g * (ans + 1))
log2 = elementwise('log2', np.log2, lambda g, ans, x: g / (x * _LN2))
log10 = elementwise('log10', np.log10, lambda g, ans, x: g / (x * _LN10))
log1p = elementwise('log1p', np.log1p, lambda g, ans, x: g / (1 + x))
sin = elementwise('sin', np.sin, lambda g, ans, x: g * cos.on_any(x))
cos = elementwise('cos', np.cos, lambda g, ans, x: -g * sin.on_any(x))
tan = elementwise('tan', np.tan, lambda g, ans, x: g * (1 + ans * ans))
arcsin = elementwise('arcsin', np.arcsin, lambda g, ans, x: g / sqrt.on_any(1 - x * x))
arccos = elementwise('arccos', np.arccos, lambda g, ans, x: -g / sqrt.on_any(1 - x * x))
arctan = elementwise('arctan', np.arctan, lambda g, ans, x: g / (1 + x * x))
sinh = elementwise('sinh', np.sinh, lambda g, ans, x: g * cosh.on_any(x))
cosh = elementwise('cosh', np.cosh, lambda g, ans, x: g * sinh.on_any(x))
arcsinh = elementwise('arcsinh', np.arcsinh, lambda g, ans, x: g / sqrt.on_any(x * x + 1))
arccosh = elementwise('arccosh', np.arccosh, lambda g, ans, x: g / sqrt.on_any(x * x - 1))
arctanh = elementwise('arctanh', np.arctanh, lambda g, ans, x: g / (1 - x * x))

logaddexp = Primitive('logaddexp', np.logaddexp, (
    lambda g, ans, x, y: g * exp.on_any(x - ans),
    lambda g, ans, x, y: g * exp.on_any(y - ans)))
logaddexp2 = Primitive('logaddexp2', np.logaddexp2, (
    lambda g, ans, x, y: g * exp2.on_any(x - ans),
    lambda g, ans, x, y: g * exp2.on_any(y - ans)))
arctan2 = Primitive('arctan2', np.arctan2, (  # arctan2(y, x): the angle of the point (x, y)
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y)))
hypot = Primitive('hypot', np.hypot, (
    lambda g, ans, x, y: g * x / ans,
    lambda g, ans, x, y: g * y / ans))
float_power = Primitive('float_power', np.float_power, (
    lambda g, ans, x, y: g * y * float_power.on_any(x, y - 1),
    _pow_exponent_grad))
# x - floor(x / y) * y (np.remainder, np.mod) and x - trunc(x / y) * y (np.fmod): the quotient
# is a step function, a constant almost everywhere.
remainder = Primitive('remainder', np.remainder, (
    lambda g, ans, x, y: g,
    lambda g, ans, x, y: -g * np.floor_divide(_value(x), _value(y))))
fmod = Primitive('fmod', np.fmod, (
    lambda g, ans, x, y: g,
    lambda g, ans, x, y: -g * np.trunc(np.true_divide(_value(x), _value(y)))))


def _nan_tie_mask(x, y, dtype):
    """Share of the gradient that goes to x in fmax(x, y): as maximum's, but a NaN loses."""
    x, y = _value(x), _value(y)
    wins = (x > y) | (np.isnan(y) & ~np.isnan(x))
    return np.where(wins, 1.0, np.where(x == y, 0.5, 0.0)).astype(dtype, copy=False)


fmax = Primitive('fmax', np.fmax, (
    lambda g, ans, x, y: g * _nan_tie_mask(x, y, g.dtype),
    lambda g, ans, x, y: g * _nan_tie_mask(y, x, g.dtype)))
fmin = Primitive('fmin', np.fmin, (
    lambda g, ans, x, y: g * _nan_tie_mask(-_value(x), -_value(y), g.dtype),
    lambda g, ans, x, y: g * _nan_tie_mask(-_value(y), -_value(x), g.dtype)))


def _others_product(x, axis):
    """For each element of x, the product of the other elements it is reduced with: exact
    where x has zeros (ans / x is not). Arrays only."""
    axes = _axes(axis, x.ndim)
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = np.transpose(x, rest + axes)
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((before * after).reshape(moved.shape), np.argsort(rest + axes))


def _prod_grad(g, ans, x, axis, keepdims):
    if isinstance(x, Tensor) or not (x == 0).any():  # on Tensors (second order): ans / x
        return _kept(g, x, axis, keepdims) * (_kept(ans, x, axis, keepdims) / x)
    return _kept(g, x, axis, keepdims) * _others_product(x, axis)


prod = _reduction('prod', np.multiply.reduce, _prod_grad)


def _cumsum_grad(g, ans, x, axis):
    # the adjoint of a running sum is the running sum from the other end
    return g.sum(axis=axis, keepdims=True) - cumsum.on_any(g, axis=axis) + g


cumsum = Primitive('cumsum', lambda x, axis: np.cumsum(x, axis), (_cumsum_grad,), static={'axis': REQUIRED})
flip = Primitive('flip', lambda x, axis: np.flip(x, axis), (lambda g, ans, x, axis: flip.on_any(g, axis=axis),),
                 static={'axis': None})


def _pad_grad(g, ans, x, pad_width, constant_values):
    return g[tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))]


# Zeros (or constant_values) around x: pad_width is ((before, after), ...) per axis.
pad = Primitive('pad', lambda x, pad_width, constant_values: np.pad(x, pad_width, constant_values=constant_values),
                (_pad_grad,), static={'pad_width': REQUIRED, 'constant_values': 0})


def _einsum_parts(subscripts):
    inputs, output = subscripts.replace(' ', '').split('->')
    return inputs.split(','), output


def _einsum_grad(i, g, ans, xs, subscripts):
    """Operand i's gradient: einsum of g with the other operands, onto operand i's indices;
    indices only operand i has (summed out of it alone) come back by broadcasting."""
    inputs, output = _einsum_parts(subscripts)
    others = [s for j, s in enumerate(inputs) if j != i]
    elsewhere = set(output).union(*others)
    kept = ''.join(c for c in inputs[i] if c in elsewhere)
    g = einsum.on_any([g] + [x for j, x in enumerate(xs) if j != i],
                      subscripts=','.join([output] + others) + '->' + kept)
    shape = np.shape(_value(xs[i]))
    if len(kept) < len(inputs[i]):
        g = broadcast_to(g.reshape(tuple(n if c in kept else 1 for c, n in zip(inputs[i], shape))), shape)
    return g


# np.einsum in the explicit form 'ij,jk->ik', without '...' and without an index repeated within
# one operand (numpy_api checks and rewrites the implicit form).
einsum = Primitive('einsum', lambda *xs, subscripts: np.einsum(subscripts, *xs), _PerInput(_einsum_grad),
                   static={'subscripts': REQUIRED}, variadic=True)
