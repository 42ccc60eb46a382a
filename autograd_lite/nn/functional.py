"""Losses (and the activations under their PyTorch names).

Every loss checks its input and target itself, before any arithmetic: shapes that differ
raise a ShapeError (a ValueError) naming both, instead of letting NumPy broadcast
``(130,)`` against ``(130, 1)`` into a ``(130, 130)`` table of every prediction against
every target. ``reduction`` is 'mean' (default), 'sum' or 'none' (one loss per element,
or per row for cross-entropy).

``linear`` is ``x @ weight + bias`` as one primitive (one graph node instead of two),
the layer :class:`~autograd_lite.nn.Linear` uses.

The hot losses are primitives with the gradient beside the forward (one graph node,
the gradient in closed form): cross-entropy on integer labels, whose gradient is
``(softmax(x) - onehot(y)) / N``; binary cross-entropy on logits, ``sigmoid(x) - y``;
mean squared error, ``2 (x - y) / N``. Their rules run on Tensors too, so second
derivatives work.
"""
import warnings

import numpy as np

from .. import ops
from ..engine import Primitive
from ..errors import ShapeError
from ..tensor import Tensor, _value

sigmoid, tanh, relu, softmax, log_softmax = ops.sigmoid, ops.tanh, ops.relu, ops.softmax, ops.log_softmax

_REDUCTIONS = ('mean', 'sum', 'none')


# -- checks shared by the losses ------------------------------------------------------------
def _check_reduction(op, reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_data(op, what, x):
    """Refuse an ``input`` or ``target`` that is not real numeric data, naming the loss and the
    argument (else the op inside that first meets it, 'mul' or 'clip', would name itself)."""
    if isinstance(x, Tensor) or x.__class__ is np.ndarray and x.dtype.kind in 'fiub':
        return
    if x is None or isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{op}: {what} must be a Tensor, an array or a nested list of numbers, "
                        f"got {type(x).__name__} {x!r:.40}")
    try:
        dtype = np.asarray(x).dtype
    except (ValueError, TypeError):
        raise TypeError(f"{op}: cannot make an array of {what} from {type(x).__name__} {str(x)[:40]}: give a "
                        "Tensor, an array, or a rectangular nested list of numbers (rows of one length)") from None
    if dtype.kind not in 'fiub':
        raise TypeError(f"{op}: {what} must be real numeric data, got {type(x).__name__} of dtype {dtype}; "
                        "convert it, e.g. x.real or x.astype(np.float64)")


def _reduce(losses, reduction):
    """Works on ndarrays (inside forwards) and Tensors alike."""
    if reduction == 'none':
        return losses
    if isinstance(losses, Tensor):
        return losses.sum() if reduction == 'sum' else losses.mean()
    # np.add.reduce is what ndarray.sum() calls through a Python wrapper (and mean() is
    # Python code too): on small arrays the wrappers cost more than the sum
    total = np.add.reduce(losses, axis=None)
    return total if reduction == 'sum' else total / losses.size


def _shape(x):
    """The shape of a Tensor, an array or anything np.shape understands (lists)."""
    if isinstance(x, Tensor):
        return x.data.shape  # (not the property: one Python call fewer per loss)
    return x.shape if isinstance(x, np.ndarray) else np.shape(x)


def _check_same_shape(op, input, target):
    a, b = _shape(input), _shape(target)
    if a == b:
        return
    message = f"{op}: input has shape {a} but target has shape {b}; they must be equal"
    try:
        both = np.broadcast_shapes(a, b)
    except ValueError:
        both = None
    if both is not None and both not in (a, b):
        message += (f". NumPy would broadcast them to {both}, comparing every prediction with "
                    "every target, and the loss would quietly be wrong")
    if int(np.prod(a)) == int(np.prod(b)):
        message += f". Reshape one to match the other, e.g. target.reshape{a}"
    raise ShapeError(message)


def _warn_if_made_by(x, op_name, op, advice):
    if isinstance(x, Tensor) and x.op_name == op_name:
        warnings.warn(f"{op}: the input is the output of {op_name}; {advice}", stacklevel=3)


_UNSIGNED = {n: np.dtype(f'u{n}') for n in (1, 2, 4, 8)}  # by itemsize


def _integer_labels(op, labels, num_classes=None):
    """``labels`` as an integer ndarray, each in [0, num_classes) (num_classes None: >= 0)."""
    try:
        arr = np.asarray(_value(labels))
    except (ValueError, TypeError):
        raise TypeError(f"{op}: cannot make an array of labels from {type(labels).__name__} {str(labels)[:40]}: "
                        "give integers in an array or a rectangular nested list (rows of one length)") from None
    if arr.dtype.kind not in 'iu':
        raise TypeError(f"{op}: class labels must be integers, got dtype {arr.dtype} with shape {arr.shape}; "
                        "convert them, e.g. labels.astype(int)")
    if arr.size and num_classes is not None:
        # One pass: viewed as unsigned, a negative label is huge, so the max catches both ends.
        bad = np.maximum.reduce(arr.view(_UNSIGNED[arr.dtype.itemsize]), axis=None) >= num_classes
    else:
        bad = arr.size and arr.min() < 0
    if bad:
        lo, hi = arr.min(), arr.max()
        where = f"in [0, {num_classes}) for {num_classes} classes" if num_classes is not None else ">= 0"
        hint = " (labels counted from 1? subtract 1)" if lo >= 1 and hi == num_classes else ""
        raise ValueError(f"{op}: labels must be class indices {where}, got values from {lo} to {hi}{hint}")
    return arr


def _row_labels(op, labels, input_shape):
    """Integer labels of shape (N,) for scores of shape (N, C), checked."""
    arr = np.asarray(_value(labels))
    n, c = input_shape
    if arr.dtype.kind == 'f' and arr.shape == (n,):
        raise TypeError(f"{op}: class labels must be integers, got {arr.dtype} labels of shape {arr.shape}; "
                        f"use labels.astype(int), or give one-hot or probability targets of shape {input_shape}")
    if arr.shape != (n,):
        fix = ("; use labels.reshape(-1)" if arr.size == n else
               f"; give one label per row, shape ({n},), or targets of shape {input_shape}")
        raise ShapeError(f"{op}: input has shape {input_shape} but labels have shape {arr.shape}: "
                         f"integer labels must have shape ({n},){fix}")
    return _integer_labels(op, arr, c)


def _scores_shape(op, input):
    shape = _shape(input)
    dtype = np.asarray(_value(input)).dtype if not isinstance(input, Tensor) else input.dtype
    if dtype.kind != 'f':
        raise TypeError(f"{op}: scores must be floating-point, got dtype {dtype}; "
                        "convert them first, e.g. scores.astype(np.float64)")
    if len(shape) != 2:
        raise ShapeError(f"{op}: input must be scores of shape (N, C), got shape {shape}; "
                         "for a single sample use x.reshape(1, -1)")
    return shape


def _eye_rows(labels, num_classes, dtype):
    return np.eye(num_classes, dtype=dtype)[labels]


# -- linear ---------------------------------------------------------------------------------------
def _linear_fwd(x, weight, bias):
    if weight.ndim != 2:
        raise ValueError("weight is not 2-D")  # (explained by _linear_explain)
    out = np.matmul(x, weight)
    if bias.dtype == out.dtype and bias.shape == out.shape[-1:]:
        out += bias  # the product is a new array: add in place, one array fewer
        return out
    return out + bias  # another dtype or shape: NumPy's promotion and broadcasting decide


def _linear_grad_weight(g, ans, x, weight, bias):
    if x.ndim == 2:
        return x.T @ g
    # rows of every leading dimension (or the single row of a 1-D input) contribute alike
    n_in, n_out = weight.shape
    return x.reshape((-1, n_in)).T @ g.reshape((-1, n_out))


def _linear_explain(x, weight, bias):
    sx, sw, sb = np.shape(x), np.shape(weight), np.shape(bias)
    if len(sw) != 2:
        return f"linear: weight must be 2-D, (in_features, out_features), got shape {sw}"
    if len(sx) == 0 or sx[-1] != sw[0]:
        fix = (f"; a weight of shape {sw[::-1]} would fit: is it transposed (PyTorch stores "
               "(out_features, in_features))?" if len(sx) and sx[-1] == sw[1] else "")
        return (f"linear: input of shape {sx} does not fit weight of shape {sw}: the input's last "
                f"dimension must be in_features = {sw[0]}{fix}")
    return (f"linear: bias of shape {sb} does not broadcast to the output's shape {sx[:-1] + sw[1:]}; "
            f"give it shape ({sw[1]},)")


# The bias's gradient is g itself: the engine sums it over the rows (unbroadcast).
_linear = Primitive('linear', _linear_fwd, (
    lambda g, ans, x, weight, bias: g @ weight.T,
    _linear_grad_weight,
    lambda g, ans, x, weight, bias: g,
), _linear_explain)


def linear(input, weight, bias=None):
    """``input @ weight + bias``: (..., in_features) -> (..., out_features), one graph node.

    ``weight`` is (in_features, out_features), as :class:`~autograd_lite.nn.Linear` keeps
    it and as hand-written NumPy code writes ``X @ W + b`` (PyTorch's ``F.linear`` takes
    the transpose). ``bias`` is (out_features,) or None. Same values and gradients as
    ``input @ weight + bias``, with one node and one array fewer.
    """
    if bias is None:
        return ops.matmul(input, weight)
    return _linear(input, weight, bias)


# -- cross-entropy ------------------------------------------------------------------------------
_ROW_STARTS = {}  # (N, C) -> flat index of each row's first element, 0, C, 2C, ... (read-only)


def _flat_label_index(labels, num_classes):
    """Flat indices ``i * C + y_i`` of the labelled entries of a C-ordered (N, C) array:
    one cheap gather/scatter instead of indexing with two arrays (and a new arange each call)."""
    key = (len(labels), num_classes)
    starts = _ROW_STARTS.get(key)
    if starts is None:
        if len(_ROW_STARTS) > 64:  # many shapes seen: do not grow without bound
            _ROW_STARTS.clear()
        starts = np.arange(0, key[0] * num_classes, num_classes, dtype=np.intp)
        starts.flags.writeable = False
        _ROW_STARTS[key] = starts
    if labels.dtype != np.intp:  # e.g. uint64 + int64 would give float64
        labels = labels.astype(np.intp)
    return starts + labels


def _label_entries(a, labels):
    """``(view, index)`` with ``view[index]`` the entries ``a[i, labels[i]]`` of (N, C) ``a``,
    writable through the view: a flat view and flat indices when ``a`` is C-ordered."""
    if a.flags.c_contiguous:
        return a.reshape(-1), _flat_label_index(labels, a.shape[1])
    return a, (np.arange(len(labels)), labels)


def _by_rows(ufunc, x):
    """``ufunc.reduce(x, axis=1)`` for (N, C) ``x``, same values. With few classes, NumPy's
    per-row reduction costs more than C - 1 whole-column ufunc calls (the sum adds the columns
    in the same order as NumPy's loop does for rows shorter than 8, so it is bit-identical)."""
    c = x.shape[1]
    if c > 4 or c < 2:
        return ufunc.reduce(x, axis=1)
    out = ufunc(x[:, 0], x[:, 1])
    for j in range(2, c):
        ufunc(out, x[:, j], out=out)
    return out


def _cross_entropy_fwd(x, labels, reduction):
    # loss_i = logsumexp(x_i) - x_i[y_i], with the row maximum taken out so exp cannot overflow.
    e = x - _by_rows(np.maximum, x)[:, None]
    flat, at_labels = _label_entries(e, labels)
    picked = flat[at_labels]
    np.exp(e, out=e)
    total = _by_rows(np.add, e)
    losses = np.log(total)
    losses -= picked
    # saved for the backward: the softmax's numerator and denominator, computed anyway
    return _reduce(losses, reduction), (e, total)


def _cross_entropy_grad(g, ans, x, labels, reduction, saved):
    # d loss_i / d x_i = softmax(x_i) - onehot(y_i)
    if isinstance(x, Tensor):  # create_graph: a differentiable softmax
        p = ops.softmax(x, axis=-1) - _eye_rows(labels, x.shape[1], x.dtype)
    else:
        e, total = saved
        p = e / total[:, None]  # a new array (the saved one stays intact for a retained graph)
        flat, at_labels = _label_entries(p, labels)
        flat[at_labels] -= 1  # p is ours: subtract the one-hot in place
        if reduction == 'mean' and isinstance(g, np.ndarray) and g.dtype == p.dtype:
            p *= g / len(labels)  # the same product as below, without another array
            return p
    if reduction == 'mean':
        return p * (g / len(labels))
    if reduction == 'sum':
        return p * g
    return p * g.reshape((-1, 1))


_cross_entropy = Primitive('cross_entropy', _cross_entropy_fwd, (_cross_entropy_grad, None),
                           static={'reduction': 'mean'}, saves=True)


def cross_entropy(input, target, reduction='mean'):
    """Softmax cross-entropy of scores ``input`` (N, C) against ``target``.

    ``target`` is either integer class labels of shape (N,), values in [0, C), or
    one-hot / probability targets of shape (N, C) (then ``-sum(target * log_softmax(x))``
    per row, differentiable in the target too). ``input`` is raw scores (logits), not
    probabilities: the softmax is inside, computed stably (log-sum-exp).

    >>> cross_entropy(ag.Tensor([[2.0, 0.0, 0.0]]), np.array([0]))   # -log(e^2 / (e^2 + 2))
    """
    _check_reduction('cross_entropy', reduction)
    _check_data('cross_entropy', 'input', input)
    _check_data('cross_entropy', 'target', target)
    shape = _scores_shape('cross_entropy', input)
    _warn_if_made_by(input, 'softmax', 'cross_entropy',
                     "cross_entropy applies softmax itself and wants raw scores (logits): drop the softmax")
    if _shape(target) == shape:
        losses = -(ops.log_softmax(input, axis=1) * target).sum(axis=1)
        return _reduce(losses, reduction)
    labels = _row_labels('cross_entropy', target, shape)
    return _cross_entropy(input, labels, reduction)


def nll_loss(input, target, reduction='mean'):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) (e.g. from
    ``LogSoftmax``) at integer labels ``target`` (N,): ``-input[i, target[i]]``."""
    _check_reduction('nll_loss', reduction)
    _check_data('nll_loss', 'input', input)
    _check_data('nll_loss', 'target', target)
    shape = _scores_shape('nll_loss', input)
    labels = _row_labels('nll_loss', target, shape)
    return _reduce(-input[np.arange(shape[0]), labels], reduction)


# -- binary cross-entropy ----------------------------------------------------------------------------
def binary_cross_entropy(input, target, reduction='mean', eps=None):
    """``-(y log p + (1 - y) log(1 - p))`` for probabilities ``input`` and targets ``target``
    of the same shape, targets in [0, 1].

    ``p`` is clipped to ``[eps, 1 - eps]`` so that ``log`` never sees 0 (``eps`` defaults to
    the machine epsilon of p's dtype, 2.2e-16 for float64); where p is clipped, its gradient
    is 0. For a sigmoid output, ``binary_cross_entropy_with_logits`` on the scores is
    exact everywhere and never saturates. Raises ValueError for p outside [0, 1].
    """
    _check_reduction('binary_cross_entropy', reduction)
    _check_data('binary_cross_entropy', 'input', input)
    _check_data('binary_cross_entropy', 'target', target)
    _check_same_shape('binary_cross_entropy', input, target)
    y = np.asarray(_value(target))
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"binary_cross_entropy: targets must lie in [0, 1], got values from {y.min():.4g} "
                         f"to {y.max():.4g}; for class labels 0/1 pass them as floats, for other labels "
                         "use cross_entropy")
    p = np.asarray(_value(input))
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from "
                         f"{p.min():.4g} to {p.max():.4g}; for raw scores use binary_cross_entropy_with_logits")
    if eps is None:
        eps = np.finfo(p.dtype if p.dtype.kind == 'f' else np.float64).eps
    p = ops.clip(input, eps, 1 - eps)
    losses = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return _reduce(losses, reduction)


def _bce_logits_fwd(x, y):
    # log(1 + e^x) - x y, written so that exp only ever sees -|x| (no overflow) and log1p
    # keeps full precision when e^-|x| is tiny: max(x, 0) - x y = x (1 - y) for x >= 0 and
    # -x y below, taken as 0 where that factor is 0, so x = +-inf with its own target gives 0.
    factor = np.where(x >= 0, 1 - y, -y)
    with np.errstate(invalid='ignore'):
        linear = np.where(factor == 0, 0.0, x * factor)
    return linear + np.log1p(np.exp(-np.abs(x)))


_bce_logits = Primitive('binary_cross_entropy_with_logits', _bce_logits_fwd, (
    lambda g, ans, x, y: g * (ops.sigmoid.on_any(x) - y),
    lambda g, ans, x, y: -g * x))


def binary_cross_entropy_with_logits(input, target, reduction='mean'):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, same shape, computed
    from the scores as ``max(x, 0) - x y + log1p(exp(-|x|))``: stable for any x.
    Gradient with respect to x: ``sigmoid(x) - y`` (per element, before the reduction)."""
    _check_reduction('binary_cross_entropy_with_logits', reduction)
    _check_data('binary_cross_entropy_with_logits', 'input', input)
    _check_data('binary_cross_entropy_with_logits', 'target', target)
    _check_same_shape('binary_cross_entropy_with_logits', input, target)
    _warn_if_made_by(input, 'sigmoid', 'binary_cross_entropy_with_logits',
                     "it applies the sigmoid itself and wants raw scores: drop the sigmoid "
                     "(or use binary_cross_entropy on probabilities)")
    return _reduce(_bce_logits(input, target), reduction)


# -- squared error -----------------------------------------------------------------------------------
def _mse_fwd(x, y, reduction):
    d = np.subtract(x, y)
    d *= d
    return _reduce(d, reduction)


def _mse_grad(g, ans, x, y, reduction):
    # d mean((x - y)^2) / dx = 2 (x - y) / size. The factor is a Python number, so that on
    # arrays it costs no 0-d array op; *= is in place on the new difference (on Tensors,
    # under create_graph, it makes a new node).
    d = x - y
    d *= 2.0 / x.size if reduction == 'mean' else 2.0
    d *= g
    return d


_mse = Primitive('mse_loss', _mse_fwd, (
    _mse_grad,
    lambda g, ans, x, y, reduction: -_mse_grad(g, ans, x, y, reduction)), static={'reduction': 'mean'})


def mse_loss(input, target, reduction='mean'):
    """``mean((input - target)**2)`` over every element; shapes must be equal.

    Note: ``0.5 * sum(...)``, the hand-derivation convention, is ``0.5 * mse_loss(x, y, 'sum')``."""
    _check_reduction('mse_loss', reduction)
    _check_data('mse_loss', 'input', input)
    _check_data('mse_loss', 'target', target)
    _check_same_shape('mse_loss', input, target)
    return _mse(input, target, reduction)


# -- labels ----------------------------------------------------------------------------------------
def one_hot(labels, num_classes=None, dtype=np.float64):
    """Integer labels of any shape S -> a Tensor of shape S + (num_classes,) with one 1 per row.

    ``num_classes`` defaults to ``max(labels) + 1``; labels outside [0, num_classes) raise.

    >>> one_hot(np.array([0, 2]), 3).data
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    if num_classes is not None and (not isinstance(num_classes, (int, np.integer))
                                    or isinstance(num_classes, (bool, np.bool_)) or num_classes < 0):
        raise TypeError(f"one_hot: num_classes must be a non-negative int (or None for max(labels) + 1), "
                        f"got {type(num_classes).__name__} {num_classes!r:.40}")
    arr = _integer_labels('one_hot', labels, num_classes)
    if num_classes is None:
        num_classes = int(arr.max()) + 1 if arr.size else 0
    return Tensor(_eye_rows(arr, num_classes, dtype))


__all__ = ['linear', 'cross_entropy', 'nll_loss', 'binary_cross_entropy', 'binary_cross_entropy_with_logits',
           'mse_loss', 'one_hot', 'sigmoid', 'tanh', 'relu', 'softmax', 'log_softmax']
