"""Proving gradients: the engine's answer against central finite differences in float64.

* :func:`numerical_grad` gives the numbers: d<fn(*inputs), grad_output>/d input, measured.
* :func:`gradcheck` compares them with what backward derives, for every input that
  requires grad, and names the input and element that disagree.
* :func:`gradgradcheck` does the same one order up: it differentiates the gradient
  itself (``ag.grad(..., create_graph=True)``), which is what Hessian-vector products use.

Everything runs on float64 copies of the inputs: the user's tensors are never perturbed,
and never get a ``.grad``.
"""
import warnings

import numpy as np

from .engine import grad as _engine_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient disagrees with central differences.

    An AssertionError because a failed gradcheck is a failed check: inside a test
    (pytest or unittest) it reads as a test failure, not as a crash of the code under test.
    It is raised explicitly, so ``python -O`` does not turn it off.
    """


class PrecisionWarning(UserWarning):
    """A gradient check was given float32 (or float16) data; it runs on float64 copies."""


# -- the numbers ---------------------------------------------------------------------------------
def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)


def _checked_inputs(caller, fn, inputs, eps):
    """``inputs`` as a tuple, after refusing a call no check can run: fn not callable, an
    input that is no Tensor, array or number, eps not a positive finite number."""
    if not callable(fn):
        raise TypeError(f"{caller}: fn must be a function called as fn(*inputs), got {type(fn).__name__} {fn!r:.40}")
    if (not isinstance(eps, (int, float, np.integer, np.floating)) or isinstance(eps, (bool, np.bool_))
            or not (np.isfinite(eps) and eps > 0)):
        raise ValueError(f"{caller}: eps must be a positive finite number (the step of the differences, "
                         f"e.g. 1e-6), got {type(eps).__name__} {eps!r:.40}")
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        data = x.data if isinstance(x, Tensor) else x
        if not (isinstance(data, (int, float, np.number)) or
                isinstance(data, np.ndarray) and data.dtype.kind in 'fiub'):
            raise TypeError(f"{caller}: inputs[{i}] is {type(x).__name__} {x!r:.40}; give a Tensor or a list "
                            "of them (arrays and numbers are passed to fn as constants)")
    return inputs


def _is_float(x):
    data = x.data if isinstance(x, Tensor) else x
    return isinstance(data, np.ndarray) and data.dtype.kind == 'f'


def _float64_copy(x):
    """What fn sees in place of input x: a float64 copy of floating-point data (which
    the differences perturb in place), anything else (labels, numbers) as it is."""
    if isinstance(x, Tensor) and _is_float(x):
        return Tensor(np.array(x.data, dtype=np.float64), requires_grad=x._requires_grad, name=x.name)
    if _is_float(x):
        return np.array(x, dtype=np.float64)
    return x


def _inner(out, grad_output):
    """<out, grad_output> as a float: the scalar whose derivative is the vector-Jacobian product."""
    data = np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)
    if grad_output is None:
        return float(data.sum())
    if data.shape != grad_output.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape} but fn's output has shape {data.shape}; "
                         "they must be equal")
    return float(np.vdot(data, grad_output))


def _central_differences(fn, args, which, eps, grad_output):
    """d<fn(*args), grad_output>/d args[i] for each i in ``which``, one element at a time."""
    result = []
    for i in which:
        arr = args[i].data if isinstance(args[i], Tensor) else args[i]
        flat = arr.reshape(-1)  # a view: arr is a contiguous copy that we own
        out = np.empty(arr.size)
        for k in range(arr.size):
            orig = flat[k]
            flat[k] = orig + eps
            hi = _inner(fn(*args), grad_output)
            flat[k] = orig - eps
            lo = _inner(fn(*args), grad_output)
            flat[k] = orig  # restored exactly, not by subtracting eps again
            out[k] = (hi - lo) / (2 * eps)
        result.append(out.reshape(arr.shape))
    return result


def numerical_grad(fn, inputs, eps=1e-6, grad_output=None):
    """Central-difference gradients of ``fn`` at ``inputs``, computed in float64.

    ``fn(*inputs)`` returns a Tensor (or array) ``out`` of any shape. What is
    differentiated is the scalar ``sum(out * grad_output)``: with ``grad_output=None``
    that is ``out.sum()`` (for a scalar ``out``, its plain gradient); pass an array of
    ``out``'s shape to get a vector-Jacobian product, the quantity backward computes
    with ``out.backward(grad_output)``.

    ``inputs`` is a Tensor or array, or a list/tuple of them. Returns a tuple with one
    entry per input: a float64 ndarray of that input's shape for floating-point inputs
    (Tensors or arrays, whether or not they require grad), None for the others
    (integer labels, Python numbers). Each element costs two calls of ``fn``.

    >>> x = ag.Tensor([1.0, 2.0])
    >>> numerical_grad(lambda x: (x * x).sum(), x)   # (array([2., 4.]),) up to ~1e-9
    """
    args = tuple(_float64_copy(x) for x in _checked_inputs('numerical_grad', fn, inputs, eps))
    if grad_output is not None:
        grad_output = np.asarray(grad_output, dtype=np.float64)
    which = [i for i, x in enumerate(args) if _is_float(x)]
    found = dict(zip(which, _central_differences(fn, args, which, eps, grad_output)))
    return tuple(found.get(i) for i in range(len(args)))


# -- the checks -----------------------------------------------------------------------------------
def _prepare(fn, inputs, eps, caller):
    """Float64 copies of the inputs and the indices of those that require grad; warns about float32."""
    inputs = _checked_inputs(caller, fn, inputs, eps)
    low = [f"input {i} ({_describe(x)})" for i, x in enumerate(inputs)
           if _is_float(x) and (x.data if isinstance(x, Tensor) else x).dtype.itemsize < 8]
    if low:
        warnings.warn(
            f"{caller}: {', '.join(low)}: central differences need float64. With eps={eps:g}, "
            "float32 (which resolves only ~1e-7 relative to a value, machine epsilon 1.2e-07) "
            "rounds x + eps back to nearly x, so (f(x + eps) - f(x - eps)) / (2 eps) would be "
            "mostly rounding error. The check runs on float64 copies instead; build the inputs "
            "with dtype=np.float64 to silence this warning.", PrecisionWarning, stacklevel=3)
    args = tuple(_float64_copy(x) for x in inputs)
    which = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x._requires_grad]
    if not which:
        raise ValueError(f"{caller}: no input is a Tensor with requires_grad=True, so there is "
                         "nothing to check")
    return args, which


def _describe(x):
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    name = getattr(x, 'name', None)
    return (f"'{name}', " if name else '') + f"shape {shape}, {np.asarray(getattr(x, 'data', x)).dtype}"


def _upstream(out, grad_output, rng):
    """The upstream gradient for out: the user's, 1 for a scalar, else random normal
    (so that every output element, with its own weight, takes part in the check)."""
    if grad_output is not None:
        return np.asarray(grad_output, dtype=np.float64)
    if np.size(out.data if isinstance(out, Tensor) else out) == 1:
        return None
    return rng.standard_normal(np.shape(out.data if isinstance(out, Tensor) else out))


def _engine_grads(out, args, which, upstream):
    """What backward derives for each checked input (zeros where out does not depend on it)."""
    wanted = [args[i] for i in which]
    if isinstance(out, Tensor) and out._requires_grad:
        found = _engine_grad(out, wanted, grad_outputs=upstream, allow_unused=True)
    else:
        found = [None] * len(wanted)
    return [np.zeros(x.shape) if g is None else np.asarray(g.data, dtype=np.float64)
            for x, g in zip(wanted, found)]


def _mismatch(i, x, engine, numeric, atol, rtol):
    """The report for input i, or None when every element is within atol + rtol * |numeric|."""
    if engine.shape != numeric.shape:
        return f"input {i} ({_describe(x)}): the engine's gradient has shape {engine.shape}"
    bad = ~np.isclose(engine, numeric, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    excess = np.abs(engine - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)
    k = np.unravel_index(int(np.argmax(excess)), engine.shape)
    e, n = engine[k], numeric[k]
    index = tuple(int(j) for j in k)
    return (f"input {i} ({_describe(x)}): {int(bad.sum())} of {bad.size} elements differ; "
            f"worst at index {index}: engine {e:.8g}, central differences {n:.8g}, "
            f"error {abs(e - n):.3g} (allowed {atol:g} + {rtol:g} * |{n:.3g}| = {atol + rtol * abs(n):.3g})")


def _check(fn, args, which, upstream, eps, atol, rtol, raise_exception, title):
    out = fn(*args)
    engine = _engine_grads(out, args, which, upstream)
    numeric = _central_differences(fn, args, which, eps, upstream)
    reports = [r for i, e, n in zip(which, engine, numeric)
               if (r := _mismatch(i, args[i], e, n, atol, rtol)) is not None]
    if not reports:
        return True
    if raise_exception:
        raise GradcheckError(f"{title}: the engine disagrees with central differences (eps={eps:g}) for\n  "
                             + '\n  '.join(reports))
    return False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, grad_output=None, seed=0):
    """Check backward's gradients of ``fn`` at ``inputs`` against central differences.

    ``fn(*inputs)`` returns a Tensor of any shape. For a non-scalar output the engine's
    vector-Jacobian product is taken with a random normal upstream gradient of the output's
    shape (from ``np.random.default_rng(seed)``; or pass ``grad_output``), so a rule that
    mixes up output elements cannot hide behind a sum. Every input that is a Tensor with
    requires_grad=True is checked element by element: it passes when
    ``|engine - numeric| <= atol + rtol * |numeric|``.

    Returns True. On failure raises :class:`GradcheckError` naming each wrong input
    (index, name, shape), its worst element's index, both values and the error; or
    returns False when ``raise_exception=False``. float32 inputs give a
    :class:`PrecisionWarning` and are checked as float64 copies.
    """
    args, which = _prepare(fn, inputs, eps, 'gradcheck')
    upstream = _upstream(fn(*args), grad_output, np.random.default_rng(seed))
    return _check(fn, args, which, upstream, eps, atol, rtol, raise_exception, 'gradcheck')


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, grad_output=None,
                  seed=0):
    """Check second derivatives: differentiate fn's gradient, built with ``create_graph=True``.

    With random upstream vectors v (shape of fn's output, or ``grad_output``) and u_i
    (shape of input i), the function checked is
    ``h(*inputs) = sum_i <d<fn(*inputs), v>/d input_i, u_i>``: its engine gradient goes
    through the gradient rules run on Tensors, its central differences through ordinary
    backward passes. Same arguments, results and report as :func:`gradcheck`.
    """
    args, which = _prepare(fn, inputs, eps, 'gradgradcheck')
    rng = np.random.default_rng(seed)
    upstream = _upstream(fn(*args), grad_output, rng)
    directions = [rng.standard_normal(args[i].shape) for i in which]

    def first_order_vjp(*xs):
        out = fn(*xs)
        if not (isinstance(out, Tensor) and out._requires_grad):
            return 0.0
        firsts = _engine_grad(out, [xs[i] for i in which], grad_outputs=upstream,
                              create_graph=True, allow_unused=True)
        total = 0.0
        for g, u in zip(firsts, directions):
            if g is not None:
                total = total + (g * u).sum()
        return total

    return _check(first_order_vjp, args, which, None, eps, atol, rtol, raise_exception,
                  'gradgradcheck (gradient of the gradient)')
