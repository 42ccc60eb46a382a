"""Hand-derived gradients against automatic ones, with a diagnosis of the usual mistakes.

:func:`compare_gradients` takes two mappings name -> gradient (ndarray or Tensor), e.g.
your hand-derived ``{'W1': dJdW1, 'W2': dJdW2}`` and autograd_lite's
``{'W1': W1.grad, 'W2': W2.grad}``, and returns a :class:`GradientReport`: a table when
printed, and fields a program can read (``report.ok``, ``report['W1'].verdict``).

When a pair disagrees, the report looks for the exact relation between them, each only
when it holds to the tolerance: a different shape; the transpose (``hand == auto.T``); a
flipped sign (``hand == -auto``); a constant factor (``hand == c * auto``, naming 2 as a
dropped 1/2 and 1/N as a mean where a sum belongs); a bias gradient not summed over the
batch (``hand.sum(0) == auto``); the same values in another shape; or plainly wrong values.
:func:`compare_pair` makes one row; :func:`compare_gradients` and
:func:`~autograd_lite.backprop_check.check_backprop` both build their reports from it.
"""
import html
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .tensor import Tensor

# Verdict codes, as in ``row.codes``: one structural relation at most, then one factor at most.
# missing: hand has no gradient; extra: auto has none (no such name); none: auto's is None
# (backward not called); absent: neither side has the name.
OK, MISSING, EXTRA, SHAPE, WRONG = 'ok', 'missing', 'extra', 'shape', 'wrong'
NONE, ABSENT = 'none', 'absent'
TRANSPOSED, BIAS_NOT_SUMMED, RESHAPED = 'transposed', 'bias_not_summed', 'reshaped'
SIGN, FACTOR = 'sign', 'factor'


@dataclass(frozen=True)
class GradientRow:
    """One gradient's comparison. ``codes`` is e.g. ``('ok',)``, ``('sign',)`` or
    ``('transposed', 'factor')``; ``factor`` is c when ``hand == c * (view of auto)``."""
    name: str
    hand_shape: tuple | None
    auto_shape: tuple | None
    max_abs_error: float | None  # None when the shapes differ (or one side is missing)
    max_rel_error: float | None
    codes: tuple
    factor: float | None
    diagnosis: str  # one plain sentence; '' when ok

    @property
    def verdict(self):
        """The codes joined by '+', e.g. ``'ok'`` or ``'transposed+sign'``."""
        return '+'.join(self.codes)

    @property
    def ok(self):
        return self.codes == (OK,)

    def as_dict(self):
        """Plain JSON-ready values."""
        return {'name': self.name, 'hand_shape': _list(self.hand_shape), 'auto_shape': _list(self.auto_shape),
                'max_abs_error': self.max_abs_error, 'max_rel_error': self.max_rel_error,
                'verdict': self.verdict, 'factor': self.factor, 'diagnosis': self.diagnosis}


def _list(shape):
    return None if shape is None else list(shape)


class GradientReport:
    """The rows of a comparison, in order. ``str(report)`` is a table followed by one
    diagnosis line per gradient that is not ok; ``report.ok`` is True when all are.
    In Jupyter the same table shows as HTML."""
    kind = 'gradient'  # the heading of the first column

    def __init__(self, rows, labels=('hand', 'auto'), atol=0.0, rtol=0.0):
        self.rows = list(rows)
        self.labels = tuple(labels)
        self.atol, self.rtol = atol, rtol

    @property
    def ok(self):
        return all(row.ok for row in self.rows)

    @property
    def verdicts(self):
        """{name: verdict string}, e.g. ``{'W1': 'ok', 'W2': 'sign'}``."""
        return {row.name: row.verdict for row in self.rows}

    @property
    def max_abs_error(self):
        """The largest max abs error over the rows that could be compared elementwise."""
        errors = [row.max_abs_error for row in self.rows if row.max_abs_error is not None]
        return max(errors) if errors else None

    def __getitem__(self, name):
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __bool__(self):
        return self.ok

    def as_dict(self):
        return {'ok': self.ok, 'labels': list(self.labels), 'atol': self.atol, 'rtol': self.rtol,
                'rows': [row.as_dict() for row in self.rows]}

    def __repr__(self):
        return f"<{type(self).__name__} ok={self.ok} {self.verdicts}>"

    def _cells(self):
        a, b = self.labels
        head = (self.kind, f'{a} shape', f'{b} shape', 'max abs err', 'max rel err', 'verdict')
        body = [(row.name, _shape_text(row.hand_shape), _shape_text(row.auto_shape),
                 _number_text(row.max_abs_error), _number_text(row.max_rel_error), _verdict_text(row))
                for row in self.rows]
        return head, body

    def notes(self):
        """The lines printed under the table: one diagnosis per row that is not ok."""
        return [f"{row.name}: {row.diagnosis}" for row in self.rows if not row.ok]

    def __str__(self):
        head, body = self._cells()
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        lines = ['  '.join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [head] + body]
        return '\n'.join(lines + self.notes())

    def _repr_html_(self):
        """The table for Jupyter (which shows this instead of the repr)."""
        head, body = self._cells()
        e = html.escape
        rows = ['<tr>' + ''.join(f'<th>{e(c)}</th>' for c in head) + '</tr>']
        rows += ['<tr>' + ''.join(f'<td>{e(c)}</td>' for c in r) + '</tr>' for r in body]
        notes = ''.join(f'<li>{e(line)}</li>' for line in self.notes())
        return (f'<table>{"".join(rows)}</table>' + (f'<ul>{notes}</ul>' if notes else ''))


def _shape_text(shape):
    return '-' if shape is None else str(tuple(shape))


def _number_text(x):
    return '-' if x is None else f'{x:.2e}'


def _verdict_text(row):
    words = {OK: 'ok', MISSING: 'MISSING', EXTRA: 'EXTRA', NONE: 'NONE', ABSENT: 'ABSENT',
             SHAPE: 'SHAPE MISMATCH', WRONG: 'WRONG',
             TRANSPOSED: 'TRANSPOSED', BIAS_NOT_SUMMED: 'BIAS NOT SUMMED', RESHAPED: 'RESHAPED',
             SIGN: 'SIGN FLIPPED'}
    parts = [f'FACTOR {_factor_name(row.factor)}' if c == FACTOR else words[c] for c in row.codes]
    return ' + '.join(parts)


# -- reading the inputs -----------------------------------------------------------------------------
ABSENT_VALUE = object()  # a name the mapping does not have (None is a value: "no gradient yet")


def gradient_array(x, where):
    """A gradient given as an ndarray, number or Tensor, as a float64 array; None stays None.

    ``where`` names the value in errors, e.g. ``"compare_gradients: auto['W1']"``. A leaf
    Tensor that requires grad (a parameter) is the weight itself, not its gradient: a
    TypeError says so, instead of comparing the weights' values."""
    if x is None or x is ABSENT_VALUE:
        return x
    if isinstance(x, Tensor):
        if x.requires_grad and x.is_leaf:
            name = x.name or 'W'
            has = ("its .grad is None: call loss.backward() first" if x.grad is None
                   else f"its .grad has shape {x.grad.shape}")
            raise TypeError(f"{where} is a Tensor that requires grad (a parameter, shape {x.shape}), "
                            f"not a gradient: did you mean {name}.grad? ({has})")
        x = x.data
    try:
        arr = np.asarray(x)
        if arr.dtype.kind not in 'fiubO':  # complex (its imaginary part would be dropped), strings
            raise TypeError
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where} is {type(x).__name__} {x!r:.60}, not a gradient "
                        "(an array of numbers, or a Tensor)") from None
    return arr


def _mapping(x, side, caller):
    if not isinstance(x, Mapping):
        raise TypeError(f"{caller}: {side} must be a mapping name -> gradient, e.g. {{'W1': dJdW1, 'W2': dJdW2}}, "
                        f"got {type(x).__name__}; for a list use dict(zip(['W1', 'W2'], grads)), so that "
                        "each gradient is paired by name, not by position")
    return x


# -- finding the relation ---------------------------------------------------------------------------
def _close(x, y, atol, rtol):
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=rtol, atol=atol))


def _views(h, a):
    """Ways to read hand ``h`` in auto's shape: (code, array) pairs, most specific first."""
    views = []
    if h.ndim == 2 and h.T.shape == a.shape:  # also for a square matrix: hand == auto.T
        views.append((TRANSPOSED, h.T))
    if h.ndim >= 1 and h.shape[0] > 1 and h.shape[1:] == a.shape:  # (N, k) where (k,) belongs; (1, k) is a reshape
        views.append((BIAS_NOT_SUMMED, h.sum(axis=0)))
    if h.ndim >= 1 and a.ndim == h.ndim and a.shape[0] == 1 and h.shape[0] > 1 and h.shape[1:] == a.shape[1:]:
        views.append((BIAS_NOT_SUMMED, h.sum(axis=0, keepdims=True)))  # (N, k) where (1, k) belongs
    if h.shape != a.shape and h.size == a.size:
        views.append((RESHAPED, h.reshape(a.shape)))
    return views


def _simple_factors(c, batch_size):
    """Exact constants near the least-squares factor c: -1, +-2, +-1/2, +-n and +-1/n."""
    if c == 0 or not np.isfinite(c):
        return []
    sign = 1.0 if c > 0 else -1.0
    found = [sign * n for n in (1.0, 2.0) if abs(abs(c) - n) <= 1e-6 * n]
    for n in {batch_size, round(abs(c)), round(1 / abs(c))} - {None, 0, 1, 2}:
        found += [sign * k for k in (float(n), 1.0 / n) if abs(abs(c) - k) <= 1e-6 * k]
    if abs(abs(c) - 0.5) <= 5e-7:
        found.append(sign * 0.5)
    return found


def _factor(v, a, atol, rtol, batch_size):
    """c != 1 with ``v == c * a`` to tolerance, or None. Named constants are tried first and
    kept exact; any other c only when there are at least two elements to agree on it."""
    aa = float(np.vdot(a, a))
    if aa == 0.0:
        return None
    c = float(np.vdot(v, a)) / aa  # least squares
    for k in _simple_factors(c, batch_size):
        if k != 1.0 and _close(v, k * a, atol, rtol):
            return k
    # c == 0 would call an all-zero hand gradient a 'factor 0': that is plainly wrong.
    if a.size >= 2 and abs(c - 1.0) > 1e-6 and abs(c) > 1e-12 and _close(v, c * a, atol, rtol):
        return c
    return None


def _relate(h, a, atol, rtol, batch_size):
    """(codes, factor) for hand h against auto a, or None when no relation holds."""
    candidates = ([(None, h)] if h.shape == a.shape else []) + _views(h, a)
    for code, v in candidates:
        if code is not None and _close(v, a, atol, rtol):
            return (code,), None
    for code, v in candidates:
        c = _factor(v, a, atol, rtol, batch_size)
        if c is not None:
            kind = SIGN if c == -1.0 else FACTOR
            return ((kind,) if code is None else (code, kind)), c
    return None


# -- what to tell the user -----------------------------------------------------------------------------
def _factor_name(c):
    """'2', '1/2', '-1/130', or the number."""
    if c is None:
        return ''
    sign = '-' if c < 0 else ''
    m = abs(c)
    if abs(m - round(m)) <= 1e-6 * m:
        return f'{sign}{round(m)}'
    if abs(1 / m - round(1 / m)) <= 1e-6 / m:
        return f'{sign}1/{round(1 / m)}'
    return f'{c:.6g}'


def _factor_cause(c, batch_size):
    m = abs(c)
    n = round(m) if abs(m - round(m)) <= 1e-6 * m else None
    inv = round(1 / m) if abs(1 / m - round(1 / m)) <= 1e-6 / m else None
    # Only a named constant times -1 is called a flipped sign: -1.02 is no (y - y_hat) slip.
    sign = (" and the sign is flipped (did you write (y - y_hat) where the derivative of the loss "
            "has (y_hat - y)?)") if c < 0 else ''
    if n == 2 and batch_size != 2:
        why = ("a factor 2: the 1/2 of 0.5*sum(err**2) was dropped (the derivative of 0.5*e**2 is e, "
               "of e**2 it is 2*e)")
    elif inv == 2 and batch_size != 2:
        why = "a factor 1/2: an extra 1/2 (the loss has no 0.5 in front of the squares, the derivation does)"
    elif inv is not None and (batch_size is None or inv == batch_size):
        why = (f"a factor 1/{inv}: 1/N with N = {inv}, as if you averaged over the batch (mean) "
               "where the loss sums; divide only where the loss has a mean")
    elif n is not None and (batch_size is None or n == batch_size):
        why = (f"a factor {n}: N with N = {n}, as if you summed over the batch where the loss "
               f"averages (mean); divide by N = {n}")
    else:
        return f"a constant factor {c:.6g}" + (", not -1: not a flipped sign alone" if c < 0 else '')
    return why + sign


def _diagnosis(codes, c, h, a, labels, batch_size):
    hl, al = labels
    if codes == (SIGN,):
        return (f"{hl} == -{al}: the sign is flipped (e.g. delta = (y - y_hat) * ... gives minus the "
                "gradient of 0.5*sum((y_hat - y)**2); use (y_hat - y))")
    if codes == (FACTOR,):
        return f"{hl} == {_factor_name(c)} * {al}: " + _factor_cause(c, batch_size)
    first = {TRANSPOSED: f"{hl} is the transpose of {al} ({hl}.T == {al}): shape {h.shape} where {a.shape} "
                         "belongs; swap the operands of the matmul, e.g. X.T @ delta, not delta.T @ X",
             BIAS_NOT_SUMMED: f"{hl} has shape {h.shape} where {a.shape} belongs, and {hl}.sum(axis=0) == "
                              f"{al}: a bias gradient must be summed over the batch (axis 0)",
             RESHAPED: f"same values, but shape {h.shape} where {a.shape} belongs: reshape it "
                       f"(e.g. .reshape{a.shape})"}[codes[0]]
    if len(codes) == 2:
        first += f"; then {'minus' if codes[1] == SIGN else _factor_name(c) + ' times'} {al}: "
        first += ("the sign is flipped" if codes[1] == SIGN else _factor_cause(c, batch_size))
    return first


def _wrong(h, a, labels, atol, rtol):
    hl, al = labels
    err = np.abs(h - a)
    k = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    index = tuple(int(j) for j in k)
    where = f"; worst at index {index}: {hl} {h[k]:.6g}, {al} {a[k]:.6g}" if err.size else ''
    if not h.any():
        return f"{hl} is all zeros, {al} is not (max |{al}| = {float(np.abs(a).max()):.3g})"
    return (f"values differ, and not by a transpose, a sign or a constant factor "
            f"({int((~np.isclose(h, a, rtol=rtol, atol=atol)).sum())} of {a.size} elements){where}")


def _broadcast_axis(h, a):
    """(axis, n) when h is a's shape with one size-1 axis of a grown to n > 1, else None."""
    if h.ndim != a.ndim:
        return None
    differ = [k for k in range(a.ndim) if h.shape[k] != a.shape[k]]
    if len(differ) == 1 and a.shape[differ[0]] == 1:
        return differ[0], h.shape[differ[0]]
    return None


def _shape_diagnosis(h, a, labels, batch_size, atol, rtol):
    hl, al = labels
    found = _broadcast_axis(h, a)
    if found is not None and (batch_size is None or found[1] == batch_size):
        k, n = found
        text = (f"{hl} has shape {h.shape} where {a.shape} belongs: axis {k} has {n} entries where it "
                f"has 1. {n} is the batch: a flat ({n},) vector (the target y) broadcast against a "
                f"({n}, 1) column (y_hat) makes y_hat - y a ({n}, {n}) matrix, and every gradient "
                f"derived from it carries the extra axis; reshape the target to a column: "
                f"y = y.reshape(-1, 1)")
        if h.ndim == 2 and k == 1 and h.shape[0] == n and _close(np.diagonal(h).reshape(a.shape), a, atol, rtol):
            text += f" (the diagonal of {hl} is the right gradient)"
        return text
    return (f"shapes differ: {hl} {h.shape}, {al} {a.shape} (a gradient has the shape of "
            "its parameter), and no transpose, batch sum or reshape of it matches")


def _absent_row(name, h, a, labels):
    """The row when a side has no array: absent from its mapping, or None."""
    hl, al = labels
    if h is ABSENT_VALUE and a is ABSENT_VALUE:
        code, text = ABSENT, f"neither {hl} nor {al} has a gradient named {name!r}: check the name"
    elif a is None:
        code, text = NONE, (f"{al} is None: no gradient was computed for it. Call loss.backward() before "
                            "reading .grad (a tensor the loss does not use, or one that does not "
                            "require grad, keeps .grad None)")
    elif h is None or h is ABSENT_VALUE:
        code = MISSING
        text = (f"{hl} is None, {al} has a gradient" if h is None
                else f"no {hl} gradient named {name!r}, but {al} has one")
    else:
        code, text = EXTRA, f"{hl} has a gradient named {name!r}, {al} has none"
    shape = lambda x: x.shape if isinstance(x, np.ndarray) else None
    return GradientRow(name, shape(h), shape(a), None, None, (code,), None, text)


def compare_pair(name, h, a, atol=1e-8, rtol=1e-5, labels=('hand', 'auto'), batch_size=None):
    """One :class:`GradientRow`: hand ``h`` against the reference ``a``, both float arrays
    (see :func:`gradient_array`), or None, or ``ABSENT_VALUE`` for a name a side lacks."""
    hl, al = labels
    if not isinstance(h, np.ndarray) or not isinstance(a, np.ndarray):
        return _absent_row(name, h, a, labels)
    abs_err = rel_err = None
    if h.shape == a.shape:
        err = np.abs(h - a)
        abs_err = float(err.max()) if err.size else 0.0
        scale = np.maximum(np.maximum(np.abs(h), np.abs(a)), atol if atol > 0 else np.finfo(float).tiny)
        rel_err = float((err / scale).max()) if err.size else 0.0
        if _close(h, a, atol, rtol):
            return GradientRow(name, h.shape, a.shape, abs_err, rel_err, (OK,), None, '')
    found = _relate(h, a, atol, rtol, batch_size)
    if found is not None:
        codes, c = found
        return GradientRow(name, h.shape, a.shape, abs_err, rel_err, codes, c,
                           _diagnosis(codes, c, h, a, labels, batch_size))
    if h.shape != a.shape:
        return GradientRow(name, h.shape, a.shape, None, None, (SHAPE,), None,
                           _shape_diagnosis(h, a, labels, batch_size, atol, rtol))
    return GradientRow(name, h.shape, a.shape, abs_err, rel_err, (WRONG,), None, _wrong(h, a, labels, atol, rtol))


def compare_gradients(hand, auto, names=None, atol=1e-8, rtol=1e-5, labels=('hand', 'auto'),
                      batch_size=None):
    """Compare two mappings name -> gradient and diagnose each difference.

    ``hand``, ``auto``: mappings from a name to an ndarray or Tensor, e.g. hand-derived
    ``{'W1': (4, 8) array}`` and ``{'W1': W1.grad}`` (a list is refused: pair them by name
    with ``dict(zip(names, grads))``). A value None is a gradient not computed yet; a
    parameter in place of its gradient is a TypeError ("did you mean W1.grad?").
    ``names``: which names to compare, in order (default: auto's names, then hand's extras).
    A pair agrees when ``|hand - auto| <= atol + rtol * |auto|`` elementwise; each
    diagnosed relation must hold to the same tolerance. ``labels`` name the two sides in
    the table. ``batch_size`` (optional) lets a factor 1/N or N be named for sure.

    Returns a :class:`GradientReport`; print it for the table, read ``report.ok``,
    ``report.verdicts`` or ``report['W1'].codes`` in a program.

    >>> report = compare_gradients({'W': -g}, {'W': g})
    >>> report['W'].verdict
    'sign'
    """
    hand, auto = _mapping(hand, 'hand', 'compare_gradients'), _mapping(auto, 'auto', 'compare_gradients')
    if names is None:
        names = list(auto) + [n for n in hand if n not in auto]
    labels = tuple(labels)
    rows = []
    for n in names:
        h = gradient_array(hand.get(n, ABSENT_VALUE), f"compare_gradients: {labels[0]}[{n!r}]")
        a = gradient_array(auto.get(n, ABSENT_VALUE), f"compare_gradients: {labels[1]}[{n!r}]")
        rows.append(compare_pair(n, h, a, atol, rtol, labels, batch_size))
    return GradientReport(rows, labels, atol, rtol)
