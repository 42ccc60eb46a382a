"""How values, shapes and op arguments are written in drawings and listings.

Shared by :mod:`.dot` and :mod:`.listing` so that a node reads the same in both:
``(130, 8)``, ``sum(axis=0)``, ``getitem[:, 0]``, ``grad norm 0.0312``. Text from the
user (names, class names, op names and arguments) goes through :func:`one_line` first.
"""
import numpy as np

SMALL = 6  # tensors with at most this many elements are printed in full
_MAX_ARG = 32  # longer argument texts (big index arrays, long tuples) are cut


def one_line(text):
    """``text`` itself when every character prints, else its repr (``'a\\nb'``): a name with
    a newline or a control character must not break a listing line or a DOT label."""
    return text if text.isprintable() else repr(text)


def shape_text(shape):
    """``(130, 4)``, ``(8,)``, ``()``: the tuple as Python writes it."""
    return str(tuple(int(n) for n in shape))


_DTYPE_NAMES = {}


def dtype_text(dtype):
    """``float64``; cached, since ``str(dtype)`` is slow enough to show in 100,000-node exports."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def number_text(v, digits=4):
    """A scalar in at most ``digits`` significant digits: ``0.5``, ``-1e-08``, ``3``, ``True``."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


def _value3(v):
    return number_text(v, 3)


def values_text(a):
    """All values of a small array on one line, 3 significant digits: ``[0.1, -2, 3.5]``,
    ``[[True, False]]``; ``0.25`` for a single value."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _value3(a.item())
    return np.array2string(a, separator=', ', formatter={'all': _value3}, max_line_width=10**6).replace('\n', '')


def summary_text(a):
    """An array in a few characters: its values when small, else ``norm 0.213`` (Frobenius)."""
    a = np.asarray(a)
    if a.size <= SMALL:
        return values_text(a)
    return f"norm {float(np.linalg.norm(a)):.3g}"


def constant_text(v):
    """A constant operand (a number or an array that is not a Tensor), compactly."""
    if isinstance(v, np.ndarray) and (v.ndim > 0 or v.dtype.kind not in 'fiub'):
        if v.size <= SMALL:
            return values_text(v)
        return f"const {shape_text(v.shape)} {v.dtype}"
    if isinstance(v, (bool, int, float, np.generic, np.ndarray)):
        return number_text(np.asarray(v).item())
    return _cut(repr(v))


def _cut(text):
    text = one_line(text)
    return text if len(text) <= _MAX_ARG else text[:_MAX_ARG - 3] + '...'


def _index_part(p):
    if isinstance(p, slice):
        parts = ['' if x is None else str(x) for x in (p.start, p.stop, p.step)]
        return ':'.join(parts[:2]) + (f":{parts[2]}" if p.step is not None else '')
    if p is Ellipsis:
        return '...'
    if p is None:
        return 'None'
    if isinstance(p, (list, np.ndarray)):
        a = np.asarray(p)
        return values_text(a) if a.size <= SMALL else f"{a.dtype} {shape_text(a.shape)}"
    return str(p)


def index_text(index):
    """``[:, 0]``, ``[1:3]``, ``[int64 (130,)]``: an index as it was written, shortened."""
    parts = index if isinstance(index, tuple) else (index,)
    return '[' + _cut(', '.join(_index_part(p) for p in parts)) + ']'


def _arg_text(v):
    if isinstance(v, (np.dtype, type)):
        return np.dtype(v).name
    if isinstance(v, tuple):
        return _cut(str(tuple(_arg_text(x) for x in v)).replace("'", ''))
    if isinstance(v, np.ndarray) or isinstance(v, (int, float, np.generic)):
        return constant_text(v)
    return _cut(v if isinstance(v, str) else repr(v))


def op_text(op_name, kw, brackets=False):
    """An op with its static arguments: ``sum(axis=0)``, ``getitem[:, 0]``, ``matmul``.

    Arguments left at None or False (NumPy's defaults: ``axis=None``, ``keepdims=False``)
    are omitted; an ``index`` argument is written as an index. ``brackets`` writes
    ``sum[axis=0]``, for the listing, where parentheses hold the operands.
    """
    op_name = one_line(op_name)
    if not kw:
        return op_name
    shown = [f"{k}={_arg_text(v)}" for k, v in kw.items()
             if k != 'index' and v is not None and v is not False]
    text = op_name + (index_text(kw['index']) if 'index' in kw else '')
    if not shown:
        return text
    return text + (f"[{', '.join(shown)}]" if brackets else f"({', '.join(shown)})")


# Ops whose operands can be swapped without changing the result: their edges need no labels.
COMMUTATIVE = frozenset({'add', 'mul', 'maximum', 'minimum'})
# What each operand of an order-sensitive op is, in argument order (edge labels), and the op
# written as an expression of its operands (node labels): `X @ W` is never read as `W @ X`.
_ROLES = {
    'matmul': ('left', 'right'), 'sub': ('left', 'right'), 'div': ('left', 'right'), 'pow': ('left', 'right'),
    'linear': ('x', 'weight', 'bias'), 'where': ('condition', 'x', 'y'),
    'cross_entropy': ('scores', 'labels'), 'binary_cross_entropy_with_logits': ('scores', 'target'),
    'mse_loss': ('input', 'target'),
}
_FORMULAS = {'matmul': '{} @ {}', 'sub': '{} - {}', 'div': '{} / {}', 'pow': '{} ** {}',
             'linear': '{} @ {} + {}'}


def operand_roles(op_name, n):
    """Labels for the ``n`` operands of an op, or None where their order does not matter:
    ``('left', 'right')`` for matmul, sub, div and pow; ``('x', 'weight', 'bias')`` for
    linear; ``('1', '2', ...)`` for other ops of several operands."""
    if n < 2 or op_name in COMMUTATIVE:
        return None
    roles = _ROLES.get(op_name, ())
    return tuple(roles[i] if i < len(roles) else str(i + 1) for i in range(n))


def formula_text(op_name, operands):
    """The op as an expression of its operands' texts (``'X @ W'``), or None for an op
    without an infix form."""
    formula = _FORMULAS.get(op_name)
    if formula is None or formula.count('{}') != len(operands):
        return None
    return formula.format(*operands)
