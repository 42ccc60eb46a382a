"""Errors raised where the user made the mistake: which op, which shapes, what to do.

A primitive's forward that fails inside NumPy is turned into one of these by
:func:`op_error`, so the user never sees a bare NumPy message from deep inside.
"""
import numpy as np


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
            a, b = sorted(sizes)
            return (f"{op_name}: shapes {listed} cannot be broadcast together: "
                    f"dimension -{k} has sizes {a} and {b} (NumPy aligns shapes from the last "
                    "dimension; sizes must be equal or 1). Reshape or transpose an operand, "
                    "e.g. x.reshape(-1, 1) to make a column")
    return f"{op_name}: shapes {listed} cannot be broadcast together"


def op_error(op, exc, vals, static):
    """The error to raise for NumPy exception ``exc`` in ``op``'s forward on ``vals``."""
    message = op.explain(*vals, **static) if op.explain is not None else None
    shapes = [shape_of(v) for v in vals]
    if message is None:
        text = str(exc)
        if 'broadcast' in text and len(shapes) > 1:
            message = broadcast_message(op.name, shapes)
        else:
            listed = ', '.join(str(s) for s in shapes)
            extra = ''.join(f', {k}={v!r}' for k, v in static.items())
            message = f"{op.name}: {text} (input shapes {listed}{extra})"
    if isinstance(exc, ValueError):
        return ShapeError(message)
    return type(exc)(message)
