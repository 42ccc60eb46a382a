"""Errors raised where the user made the mistake: which op, which shapes, what to do.

A primitive's forward that fails inside NumPy is turned into one of these by
:func:`op_error`, so the user never sees a bare NumPy message from deep inside. The
message's first line says what is wrong; :func:`at_user_line` adds the file and line of
the user's code that ran the op and, where one fix is obvious, a hint that uses the
operands' names as written there (``did you mean a1 @ delta3.T?``).
"""
import ast
import re

import numpy as np

from . import source


class ShapeError(ValueError):
    """Operands whose shapes do not fit the op (a ValueError, as NumPy would raise)."""


def shape_of(x):
    return np.shape(x)


def broadcast_message(op_name, shapes):
    """Explain why ``shapes`` do not broadcast: the first trailing dimension that clashes."""
    listed = ' and '.join(str(s) for s in shapes)
    ndim = max(len(s) for s in shapes)
    for k in range(1, ndim + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k and s[-k] != 1}
        if len(sizes) > 1:
            *others, last = sorted(sizes)  # two sizes, or more when three operands clash
            return (f"{op_name}: shapes {listed} cannot be broadcast together: "
                    f"dimension -{k} has sizes {', '.join(map(str, others))} and {last} (NumPy aligns shapes from the last "
                    "dimension; sizes must be equal or 1). Reshape or transpose an operand, "
                    "e.g. x.reshape(-1, 1) to make a column")
    return f"{op_name}: shapes {listed} cannot be broadcast together"


# NumPy's words for a shape problem (a ShapeError); any other ValueError stays a ValueError
_ABOUT_SHAPES = re.compile(r'shape|broadcast|align|dimension|axis|size|reshape', re.I)


def op_error(op, exc, vals, static):
    """The error to raise for NumPy exception ``exc`` in ``op``'s forward on ``vals``."""
    message = op.explain(*vals, **static) if op.explain is not None else None
    shapes = [shape_of(v) for v in vals]
    about_shapes = message is not None or _ABOUT_SHAPES.search(str(exc)) is not None
    if message is None and 'negative integer powers' in str(exc):
        message = (f"{op.name}: an integer tensor to a negative integer power has no integer result; "
                   "convert it to float first, e.g. x.astype(np.float64) ** -1")
    if message is None:
        text = str(exc)
        if 'broadcast' in text and len(shapes) > 1:
            message = broadcast_message(op.name, shapes)
        else:
            listed = ', '.join(str(s) for s in shapes)
            extra = ''.join(f', {k}={v!r}' for k, v in static.items())
            message = f"{op.name}: {text} (input shapes {listed}{extra})"
    message = at_user_line(message, op.name, shapes)
    if isinstance(exc, ValueError):
        return ShapeError(message) if about_shapes else ValueError(message)
    # The built-in class, not type(exc): NumPy's own subclasses (_UFuncNoLoopError, ...) take
    # other constructor arguments than a message.
    return next(kind for kind in (IndexError, TypeError, Exception) if isinstance(exc, kind))(message)


def at_user_line(message, op_name, shapes):
    """``message``, then where the user's code ran ``op_name`` and a hint when one is obvious::

        matmul: shapes (8, 1) and (3, 1) are not aligned: inner dimensions 1 and 3 differ
          at train.py:12 in backprop: grad = a1 @ delta3
          hint: did you mean a1 @ delta3.T (shape (8, 3))?
    """
    frame = source.user_frame()
    if frame is None:
        return message
    where = source.Location.of(frame)
    names = source.operand_texts(frame, op_name)
    del frame  # no frame kept alive by a reference from here
    if names is not None and len(names) != len(shapes):
        names = None
    hint = matmul_hint(shapes, names) if op_name == 'matmul' else column_hint(shapes, names)
    return f"{message}\n  at {where}" + (f"\n  hint: {hint}" if hint else '')


_UNNAMED = ('A', 'B')
_UNNAMED_NOTE = ' (A, B: the first and second operands)'


def matmul_hint(shapes, names=None):
    """'did you mean ...?' when transposing one 2-D operand, or swapping them, makes
    ``A @ B`` fit; each option with the shape it gives. None when nothing simple fits."""
    if len(shapes) != 2 or len(shapes[0]) != 2 or len(shapes[1]) != 2:
        return None
    (m, k), (p, n) = shapes
    a, b = names or _UNNAMED
    fits = []
    if m == p:
        fits.append((f"{_transposed(a)} @ {_operand(b)}", (k, n)))
    if k == n:
        fits.append((f"{_operand(a)} @ {_transposed(b)}", (m, p)))
    if n == m:
        fits.append((f"{_operand(b)} @ {_operand(a)}", (p, k)))
    if not fits:
        return None
    options = ' or '.join(f"{expr} (shape {shape})" for expr, shape in fits)
    return f"did you mean {options}?" + ('' if names else _UNNAMED_NOTE)


def column_hint(shapes, names=None):
    """For a flat (n,) vector meeting a 2-D operand with n rows: which reshape makes them match."""
    if len(shapes) != 2:
        return None
    labels = names or _UNNAMED
    for v, m in ((0, 1), (1, 0)):
        if len(shapes[v]) != 1 or len(shapes[m]) != 2:
            continue
        (n,), other = shapes[v], shapes[m]
        if other[0] != n or n == 1:
            continue
        vec, mat = labels[v], labels[m]
        note = '' if names else _UNNAMED_NOTE
        if other[1] == 1:
            return (f"{vec} is a flat ({n},) vector and {mat} a ({n}, 1) column: reshape one to match, "
                    f"{_operand(vec)}.reshape(-1, 1) or {_operand(mat)}.reshape(-1){note}")
        if other[1] != n:
            return (f"did you mean {_operand(vec)}.reshape(-1, 1)? As a ({n}, 1) column it lines up "
                    f"with the {n} rows of {mat} {other}{note}")
    return None


def strict_broadcast_message(op_name, shapes, result):
    """The core of the error strict_broadcasting raises for ``shapes`` broadcasting to ``result``."""
    listed = ' and '.join(str(s) for s in shapes)
    return (f"{op_name}: shapes {listed} broadcast to {result}, larger than every operand "
            "(strict_broadcasting is on). Reshape one operand to match the other; if this outer "
            "broadcast is intended, make it explicit with broadcast_to on one operand first")


def _parsed(text):
    try:
        return ast.parse(text, mode='eval').body
    except SyntaxError:
        return None


def _operand(text):
    """``text`` ready to take a suffix or an operator: parenthesised unless it is a name,
    attribute, call or subscript."""
    if isinstance(_parsed(text), (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return text
    return f"({text})"


def _transposed(text):
    """How to write ``text`` transposed: ``x.T`` becomes ``x``, ``a1`` becomes ``a1.T``."""
    node = _parsed(text)
    if isinstance(node, ast.Attribute) and node.attr == 'T':
        return ast.get_source_segment(text, node.value)
    return _operand(text) + '.T'
