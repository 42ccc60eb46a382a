"""A recorded graph written out as NumPy code: :func:`backward_code`, and :func:`compile`.

``backward_code(loss)`` returns the source of one function, ``import numpy as np`` and
nothing else, that computes the loss and the gradients of every leaf that requires grad,
one statement per op, written as a careful person writes backprop by hand::

    z1 = X @ W1  # (130, 8)
    a1 = 1.0 / (1.0 + np.exp(-z1))  # (130, 8)
    ...
    dW2 = a1.T @ delta2  # (8, 1)
    delta1 = (delta2 @ W2.T) * a1 * (1 - a1)  # (130, 8)
    dW1 = X.T @ delta1  # (4, 8)

It writes out what the engine does without saying: the sums that undo broadcasting, the
accumulation of a value used twice, the transposes of a matrix product's gradient. Values are
named after the tensors' names (``W1``, a module's ``0.weight`` as ``p0_weight``), gradients
``d<name>``, the gradient of a layer's pre-activation ``delta<k>``.

Each primitive has a code template for its forward and one per input for its gradient, in
:data:`TEMPLATES`, keyed by the primitive's name; each mirrors the rule in ops.py (or
nn/functional.py) operation for operation, so the code gives the engine's numbers.

``compile(fn)`` records ``fn(*args)`` once, generates its code, and runs the code on later
calls, accumulating into ``.grad`` as ``fn(*args).backward()`` would (see :class:`Compiled`).
"""
import functools
import inspect
import keyword
import re
import threading

import numpy as np

from . import debug, engine, ops
from .nn import functional as _functional
from .tensor import Tensor

__all__ = ['backward_code', 'compile', 'Compiled', 'GeneratedCode', 'CompileError', 'TEMPLATES']


class CompileError(RuntimeError):
    """``backward_code`` or ``compile`` met something it cannot write as code (a hook,
    ``retain_grad``, anomaly mode, an op without a template, a released graph)."""


# -- rendering values ------------------------------------------------------------------------------
def _float_text(v):
    v = float(v)
    if v != v:
        return 'np.nan'
    if v in (np.inf, -np.inf):
        return 'np.inf' if v > 0 else '-np.inf'
    return repr(v)


def literal(v):
    """Python source for a number: ``0.5``, ``2``, ``np.float32(0.1)`` (NumPy scalars keep
    their type, which decides the result's dtype); None when ``v`` is not a number."""
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, int) and not isinstance(v, bool):
        return repr(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, np.generic) and v.dtype.kind in 'fiu':
        inner = _float_text(v) if v.dtype.kind == 'f' else repr(int(v))
        return f'np.{v.dtype.name}({inner})'
    return None


def _wrapped(text):
    """True when ``text`` is one parenthesised group, ``(a + b)``."""
    if not (text.startswith('(') and text.endswith(')')):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == '('
        depth -= ch == ')'
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _paren(text):
    """``text`` safe as an operand of ``*`` (names, calls, subscripts, numbers stay bare)."""
    if _wrapped(text):
        return text
    if re.fullmatch(r'[\w.]+(\[[^\[\]]*\]|\([^()]*\))?(\.T)?', text) and not text.startswith('-'):
        return text
    return f'({text})'


def _dtype_text(dtype):
    return f'np.{np.dtype(dtype).name}'


def _axis_text(axis):
    return repr(tuple(axis)) if isinstance(axis, (tuple, list)) else repr(axis)


def _reduce_call(method, axis, keepdims):
    args = []
    if axis is not None:
        args.append(f'axis={_axis_text(axis)}')
    if keepdims:
        args.append('keepdims=True')
    return f'.{method}({", ".join(args)})'


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(int(a) % ndim for a in axis)


def _kept_shape(shape, axis):
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape, axis):
    n = 1
    for a in _axes(axis, len(shape)):
        n *= shape[a]
    return n




# -- the context a template sees -------------------------------------------------------------------
class Ctx:
    """What one op's templates see: ``x[i]`` the source of input i (a name or a literal),
    ``shape[i]``, ``dtype[i]``, ``out`` (the output's name), ``out_shape``, ``out_dtype``,
    ``s`` (the static arguments), ``g`` (the output gradient's source, in gradient
    templates), ``ans`` (= ``out``), ``const(value, hint)`` (a constant array as a
    parameter of the function), ``tmp(hint)`` (a fresh name) and ``saved`` (names the
    forward template made, for its gradient templates)."""

    def __init__(self, program, node):
        self.program, self.node = program, node
        self.x = [program.source(v) for v in node.inputs]
        self.shape = [program.shape(v) for v in node.inputs]
        self.dtype = [program.dtype(v) for v in node.inputs]
        self.out, self.ans = node.name, node.name
        self.out_shape, self.out_dtype = node.shape, node.dtype
        self.s = node.static or {}
        self.saved = node.saved
        self.g = None
        self.g_literal = None  # the gradient's value when it is a known number

    def const(self, value, hint='c'):
        return self.program.constant(value, hint)

    def tmp(self, hint):
        name = self.program.fresh(hint)
        self.saved[hint] = name
        return name

    def is_literal(self, i):
        return self.program.is_literal(self.node.inputs[i])

    def index(self, index, as_value=False):
        return self.program.index_text(index, as_value)


class Template:
    """The code of one primitive: ``fwd`` and one entry per input in ``vjps``.

    Each is a format string (``'{0} * {1}'``, ``'{g} * (1 - {ans} * {ans})'``: inputs by
    position, ``g``, ``ans`` and the static arguments by name) or a function ``ctx ->
    str`` for code that depends on shapes. A template gives an expression, or a list of
    statements that assign ``{out}`` last (``{out}`` is the name being defined). A vjp entry
    is None where no gradient flows (labels, conditions). ``view`` marks the gradients that
    may be views of another array (they are copied before being kept as ``.grad``).
    ``variadic`` ops take their inputs as one list: ``vjps[0]`` is used for every input,
    with ``ctx.i`` set to the input's position."""

    def __init__(self, fwd, vjps, view=False):
        self.fwd, self.vjps, self.view = fwd, tuple(vjps), view


def _fmt(template, ctx, extra=None):
    if callable(template):
        return template(ctx)
    fields = dict(ctx.s)
    fields.update(g=ctx.g, ans=ctx.ans, out=ctx.out)
    if extra:
        fields.update(extra)
    return template.format(*ctx.x, **fields)


# -- templates: the elementwise ops ------------------------------------------------------------------
def _mul_g(ctx, expr):
    """``g * expr`` (``expr`` alone when g is the number 1)."""
    if ctx.g_literal == 1.0 and not ctx.program.mixed:
        return expr
    return f'{_paren(ctx.g)} * {_paren(expr)}'


def _pow_base_grad(ctx):
    base, power = ctx.x
    if ctx.is_literal(1):
        y = ctx.node.inputs[1]
        if isinstance(y, (int, float)) and not isinstance(y, bool):
            if y == 2:  # x ** 1 is x exactly: the same numbers as the engine's rule
                return f'{_paren(ctx.g)} * 2 * {_paren(base)}'
            exponent = 1.0 if y == 0 else y - 1  # the engine's rule: gradient 0 where y == 0
            return f'{_paren(ctx.g)} * {power} * {_paren(base)} ** {literal(exponent)}'
    exponent = ctx.program.fresh('exponent')  # the gradient is 0 where the exponent is 0
    return [f'{exponent} = np.where({power} == 0, 1.0, {power} - 1) if np.any({power} == 0) else {power} - 1',
            f'{{out}} = {_paren(ctx.g)} * {_paren(power)} * {_paren(base)} ** {exponent}']


def _pow_exponent_grad(ctx):
    base = ctx.x[0]
    positive = f'({base} > 0)'
    return f'{_paren(ctx.g)} * {ctx.ans} * np.log(np.where({positive}, {base}, 1.0)) * {positive}'


def _tie_mask(x, y, dtype):
    return f'np.where({x} > {y}, 1.0, np.where({x} == {y}, 0.5, 0.0)).astype({_dtype_text(dtype)}, copy=False)'


def _clip_masks(ctx):
    """Where clip(x, low, high) = min(max(x, low), high) sends the gradient: to x inside
    [low, high], to low below it, to high above it or where high < low."""
    x, low, high = ctx.x
    return (f'(({x} >= {low}) & ({x} <= {high}))', f'(({x} < {low}) & ({low} < {high}))',
            f'(({x} > {high}) | ({high} < {low}))')


# -- templates: matrix products --------------------------------------------------------------------
def _matmul_grad(side):
    """The engine's _matmul_grad_a / _b written out for the operands' shapes."""
    def template(ctx):
        (a, b), (sa, sb), g = ctx.x, ctx.shape, _paren(ctx.g)
        a, b = _paren(a), _paren(b)
        if len(sa) == 2 and len(sb) == 2:
            return f'{g} @ {b}.T' if side == 0 else f'{a}.T @ {g}'
        # NumPy's 1-D operands as a row (left) or column (right) matrix, as ops._as_matrices
        if len(sa) == 1 and len(sb) == 1:
            g2, a2, b2 = f'{g}.reshape((1, 1))', f'{a}.reshape((1, -1))', f'{b}.reshape((-1, 1))'
            sa2, sb2 = (1, sa[0]), (sb[0], 1)
        elif len(sa) == 1:
            gs = ctx.out_shape
            g2, a2, b2 = f'{g}.reshape({gs[:-1] + (1, gs[-1])})', f'{a}.reshape((1, -1))', b
            sa2, sb2 = (1, sa[0]), sb
        elif len(sb) == 1:
            g2, a2, b2 = f'{g}.reshape({ctx.out_shape + (1,)})', a, f'{b}.reshape((-1, 1))'
            sa2, sb2 = sa, (sb[0], 1)
        else:
            g2, a2, b2, sa2, sb2 = g, a, b, sa, sb
        if side == 0:
            expr, want, final = f'{g2} @ {b2}.swapaxes(-1, -2)', sa2, sa
        else:
            expr, want, final = f'{a2}.swapaxes(-1, -2) @ {g2}', sb2, sb
        gs2 = np.broadcast_shapes(sa2[:-2], sb2[:-2]) + (want[-2], want[-1])
        expr = _unbroadcast_text(expr, gs2, want, ctx.program.fast)[0]
        if tuple(want) != tuple(final):
            expr = f'{_paren(expr)}.reshape({tuple(final)})'
        return expr
    return template


def _linear_fwd(ctx):
    x, w, b = ctx.x
    if ctx.program.fast and ctx.dtype[2] == ctx.out_dtype and ctx.shape[2] == ctx.out_shape[-1:]:
        return [f'{{out}} = {_paren(x)} @ {_paren(w)}', f'{{out}} += {b}']  # as the engine: one array
    return f'{_paren(x)} @ {_paren(w)} + {_paren(b)}'


def _linear_grad_weight(ctx):
    x, w, _ = ctx.x
    if len(ctx.shape[0]) == 2:
        return f'{_paren(x)}.T @ {_paren(ctx.g)}'
    n_in, n_out = ctx.shape[1]
    return f'{_paren(x)}.reshape((-1, {n_in})).T @ {_paren(ctx.g)}.reshape((-1, {n_out}))'


# -- templates: reductions -------------------------------------------------------------------------
_UFUNC = {'sum': 'np.add', 'max': 'np.maximum', 'min': 'np.minimum', 'mean': 'np.add'}


def _reduce_fwd(method):
    def template(ctx):
        axis, keepdims = ctx.s.get('axis'), ctx.s.get('keepdims')
        if not ctx.program.fast:
            return f'{_paren(ctx.x[0])}{_reduce_call(method, axis, keepdims)}'
        # [speed] the ufunc's reduce: what ndarray.sum calls through a Python wrapper (and what
        # the engine's forwards call); mean as the engine computes it for float32 and float64
        call = f'{_UFUNC[method]}.reduce({ctx.x[0]}, axis={_axis_text(axis)}{", keepdims=True" if keepdims else ""})'
        if method == 'mean':
            if ctx.dtype[0].kind != 'f' or ctx.dtype[0].itemsize < 4:
                return f'{_paren(ctx.x[0])}{_reduce_call(method, axis, keepdims)}'
            return f'{call} / {_count(ctx.shape[0], axis)}'
        return call
    return template


def _kept(ctx, g):
    """g with the reduced axes back as size 1 (ops._kept); a known number stays a number
    (it broadcasts as the engine's (1, ..., 1) array does)."""
    axis, keepdims = ctx.s.get('axis'), ctx.s.get('keepdims')
    if keepdims or (g == ctx.g and ctx.g_literal is not None):
        return g
    return f'{_paren(g)}.reshape({_kept_shape(ctx.shape[0], axis)})'


def _spread(ctx, g, g_literal=None):
    """The reduced gradient repeated over x's shape (ops._spread)."""
    shape = ctx.shape[0]
    if g_literal is not None:
        dtype = ctx.program.root_dtype
        return f'np.full({shape}, {g_literal})' if dtype == np.float64 else \
            f'np.full({shape}, {g_literal}, dtype={_dtype_text(dtype)})'
    axis, keepdims = ctx.s.get('axis'), ctx.s.get('keepdims')
    kept = g if axis is None or keepdims else _kept(ctx, g)
    return f'np.broadcast_to({kept}, {shape})'


def _sum_grad(ctx):
    return _spread(ctx, ctx.g, ctx.program.literal_text(ctx.g_literal))


def _mean_grad(ctx):
    n = _count(ctx.shape[0], ctx.s.get('axis'))
    if ctx.g_literal is not None:
        return _spread(ctx, None, ctx.program.divided(ctx.g_literal, n))
    return _spread(ctx, f'{_paren(ctx.g)} / {n}')


def _extreme_grad(ctx):
    x, axis = ctx.x[0], ctx.s.get('axis')
    ans = ctx.ans if ctx.s.get('keepdims') or ctx.out_shape == () else _kept(ctx, ctx.ans)
    hit = ctx.program.fresh('hit')
    share = f'({hit} / {hit}.sum(axis={_axis_text(axis)}, keepdims=True)).astype({_dtype_text(ctx.out_dtype)}, copy=False)'
    return [f'{hit} = {_paren(x)} == {ans}',
            f'{{out}} = {_paren(_kept(ctx, ctx.g))} * {share}']


def _logsumexp_fwd(ctx):
    x, axis, keepdims = ctx.x[0], ctx.s.get('axis'), ctx.s.get('keepdims')
    m = ctx.program.fresh('m')
    out = f'np.log(np.add.reduce(np.exp({x} - {m}), axis={_axis_text(axis)}, keepdims=True)) + {m}'
    lines = [f'{m} = np.maximum.reduce({x}, axis={_axis_text(axis)}, keepdims=True)',
             f'{m} = np.where(np.isfinite({m}), {m}, 0)']
    if keepdims:
        return lines + [f'{{out}} = {out}']
    return lines + [f'{{out}} = np.squeeze({out}, axis={_axis_text(axis)})']


def _logsumexp_grad(ctx):
    ans = ctx.ans if ctx.s.get('keepdims') else _kept(ctx, ctx.ans)
    return f'{_paren(_kept(ctx, ctx.g))} * np.exp({ctx.x[0]} - {ans})'


def _softmax_fwd(ctx):
    x, axis = ctx.x[0], ctx.s.get('axis', -1)
    e = ctx.tmp('e')
    return [f'{e} = np.exp({x} - {x}.max(axis={axis!r}, keepdims=True))',
            f'{{out}} = {e} / {e}.sum(axis={axis!r}, keepdims=True)']


def _log_softmax_fwd(ctx):
    x, axis = ctx.x[0], ctx.s.get('axis', -1)
    shifted = ctx.tmp('shifted')
    return [f'{shifted} = {x} - {x}.max(axis={axis!r}, keepdims=True)',
            f'{{out}} = {shifted} - np.log(np.exp({shifted}).sum(axis={axis!r}, keepdims=True))']


# -- templates: shapes -----------------------------------------------------------------------------
def _transpose_fwd(ctx):
    axes = ctx.s.get('axes')
    return f'{_paren(ctx.x[0])}.T' if axes is None else f'{_paren(ctx.x[0])}.transpose({tuple(axes)})'


def _transpose_grad(ctx):
    axes = ctx.s.get('axes')
    if axes is None:
        return f'{_paren(ctx.g)}.T'
    return f'{_paren(ctx.g)}.transpose({tuple(int(a) for a in np.argsort(axes))})'


def _unbroadcast_text(expr, shape, want, fast=False):
    """``expr`` (of ``shape``) summed back to ``want`` as engine.unbroadcast does: the code
    and a note ``(130, 8) -> (8,)``, or the note None when nothing is summed."""
    shape, want = tuple(shape), tuple(want)
    if shape == want:
        return expr, None
    extra = len(shape) - len(want)
    now = shape
    if extra:
        axis = 0 if extra == 1 else tuple(range(extra))
        expr = f'np.add.reduce({expr}, axis={axis!r})' if fast else f'{_paren(expr)}.sum(axis={axis!r})'
        now = shape[extra:]
    axes = tuple(i for i, n in enumerate(want) if n == 1 and now[i] != 1)
    if axes:
        expr = (f'np.add.reduce({expr}, axis={axes!r}, keepdims=True)' if fast
                else f'{_paren(expr)}.sum(axis={axes!r}, keepdims=True)')
    return expr, f'{shape} -> {want}'


def _broadcast_to_grad(ctx):
    return _unbroadcast_text(ctx.g, ctx.out_shape, ctx.shape[0], ctx.program.fast)[0]


def _section(ctx, index):
    ndim = len(ctx.out_shape)
    axis = ctx.s.get('axis', 0) % ndim
    return ', '.join([':'] * axis + [index])


def _join_grad(ctx):
    where = ctx.saved['where'][ctx.i]
    if isinstance(where, slice):
        where = f'{where.start}:{where.stop}'
    return f'{_paren(ctx.g)}[{_section(ctx, str(where))}]'


def _concatenate_fwd(ctx):
    axis = ctx.s.get('axis', 0)
    stops = np.cumsum([s[axis] for s in ctx.shape]).tolist()
    ctx.saved['where'] = [slice(stop - s[axis], stop) for s, stop in zip(ctx.shape, stops)]
    return f'np.concatenate([{", ".join(ctx.x)}], axis={axis!r})'


def _stack_fwd(ctx):
    ctx.saved['where'] = list(range(len(ctx.x)))
    return f'np.stack([{", ".join(ctx.x)}], axis={ctx.s.get("axis", 0)!r})'


def _getitem_grad(ctx):
    index = ctx.s['index']
    accumulate = _has_int_array(index)
    fill = (f'np.add.at({{out}}, {ctx.index(index, True)}, {ctx.g})' if accumulate
            else f'{{out}}[{ctx.index(index)}] = {ctx.g}')
    return [f'{{out}} = np.zeros({ctx.shape[0]}, dtype={_dtype_text(ctx.out_dtype)})', fill]


def _scatter_fwd(ctx):
    index, shape = ctx.s['index'], tuple(ctx.s['shape'])
    fill = (f'np.add.at({{out}}, {ctx.index(index, True)}, {ctx.x[0]})' if _has_int_array(index)
            else f'{{out}}[{ctx.index(index)}] = {ctx.x[0]}')
    return [f'{{out}} = np.zeros({shape}, dtype={_dtype_text(ctx.dtype[0])})', fill]


def _has_int_array(index):
    """Whether the engine accumulates with np.add.at for this index (ops' own test)."""
    return ops._has_int_array(index)


# -- templates: losses ------------------------------------------------------------------------------
def _by_rows(ufunc, x, c, out):
    """``ufunc.reduce(x, axis=1)`` of (N, C) x as the engine's _by_rows computes it: C - 1
    column operations when 2 <= C <= 4 (the same numbers), else the reduction."""
    if c > 4 or c < 2:
        return [f'{out} = {ufunc}.reduce({x}, axis=1)']
    lines = [f'{out} = {ufunc}({x}[:, 0], {x}[:, 1])']
    return lines + [f'{ufunc}({out}, {x}[:, {j}], out={out})' for j in range(2, c)]


def _cross_entropy_fast(ctx):
    """[speed] The engine's forward: flat indices of the labelled entries (row starts are a
    constant of the shape), the row maximum and sums by columns when C <= 4, exp in place."""
    x, labels, reduction = ctx.x[0], ctx.x[1], ctx.s.get('reduction', 'mean')
    n, c = ctx.shape[0]
    starts = ctx.program.constant(np.arange(0, n * c, c, dtype=np.intp), 'row_starts', made=True)
    m, e, total, at = ctx.tmp('m'), ctx.tmp('e'), ctx.tmp('total'), ctx.tmp('at')
    losses, picked = ctx.program.fresh('losses'), ctx.program.fresh('picked')
    lines = _by_rows('np.maximum', x, c, m)
    lines += [f'{e} = {x} - {m}[:, None]',
              f'{at} = {starts} + {labels}' if ctx.dtype[1] == np.intp else
              f'{at} = {starts} + {labels}.astype(np.intp)',
              f'{picked} = {e}.reshape(-1)[{at}]',
              f'np.exp({e}, out={e})']
    lines += _by_rows('np.add', e, c, total)
    lines += [f'{losses} = np.log({total})', f'{losses} -= {picked}']
    if reduction == 'none':
        return lines + [f'{{out}} = {losses}']
    reduced = f'np.add.reduce({losses}, axis=None)'
    return lines + [f'{{out}} = {reduced} / {n}' if reduction == 'mean' else f'{{out}} = {reduced}']


def _cross_entropy_fwd(ctx):
    if ctx.program.fast:
        return _cross_entropy_fast(ctx)
    x, labels, reduction = ctx.x[0], ctx.x[1], ctx.s.get('reduction', 'mean')
    n = ctx.shape[0][0]
    shifted, e, total, rows = ctx.tmp('shifted'), ctx.tmp('e'), ctx.tmp('total'), ctx.tmp('rows')
    lines = [f'{shifted} = {x} - {x}.max(axis=1, keepdims=True)',
             f'{e} = np.exp({shifted})',
             f'{total} = {e}.sum(axis=1)',
             f'{rows} = np.arange({n})']
    losses = f'np.log({total}) - {shifted}[{rows}, {labels}]'
    reduced = {'mean': f'({losses}).mean()', 'sum': f'({losses}).sum()', 'none': losses}[reduction]
    return lines + [f'{{out}} = {reduced}']


def _cross_entropy_grad(ctx):
    e, total = ctx.saved['e'], ctx.saved['total']
    labels, reduction, n = ctx.x[1], ctx.s.get('reduction', 'mean'), ctx.shape[0][0]
    if ctx.program.fast:
        lines = [f'{{out}} = {e} / {total}[:, None]', f'{{out}}.reshape(-1)[{ctx.saved["at"]}] -= 1']
    else:
        lines = [f'{{out}} = {e} / {total}[:, None]', f'{{out}}[{ctx.saved["rows"]}, {labels}] -= 1']
    if reduction == 'mean':
        if ctx.g_literal is not None:
            scale = ctx.program.divided(ctx.g_literal, n)
        else:
            scale = f'({_paren(ctx.g)} / {n})'
        lines.append(f'{{out}} *= {scale}')
    elif reduction == 'sum':
        if not (ctx.g_literal == 1.0 and not ctx.program.mixed):
            lines.append(f'{{out}} *= {ctx.g}')
    else:
        lines.append(f'{{out}} *= {_paren(ctx.g)}.reshape((-1, 1))')
    return lines


def _bce_logits_fwd(ctx):
    x, y = (_paren(v) for v in ctx.x)
    factor = ctx.program.fresh('factor')  # x (1 - y) or -x y, 0 where that factor is 0 (x = +-inf)
    return [f'{factor} = np.where({x} >= 0, 1 - {y}, -{y})',
            f'{{out}} = np.where({factor} == 0, 0.0, {x} * {factor}) + np.log1p(np.exp(-np.abs({x})))']


def _mse_fwd(ctx):
    x, y = (_paren(v) for v in ctx.x)
    diff = ctx.tmp('diff')
    reduction = ctx.s.get('reduction', 'mean')
    if ctx.program.fast:  # [speed] as the engine: the square in place, the reduce without wrappers
        sq = ctx.program.fresh('sq')
        lines = [f'{diff} = {x} - {y}', f'{sq} = {diff} * {diff}']
        n = int(np.prod(ctx.shape[0]))
        return lines + [{'mean': f'{{out}} = np.add.reduce({sq}, axis=None) / {n}',
                         'sum': f'{{out}} = np.add.reduce({sq}, axis=None)', 'none': f'{{out}} = {sq}'}[reduction]]
    square = f'{diff} * {diff}'
    reduced = {'mean': f'({square}).mean()', 'sum': f'({square}).sum()', 'none': square}[reduction]
    return [f'{diff} = {x} - {y}', f'{{out}} = {reduced}']


def _mse_grad(sign):
    def template(ctx):
        n = int(np.prod(ctx.shape[0]))
        factor = _float_text(2.0 / n) if ctx.s.get('reduction', 'mean') == 'mean' else '2.0'
        expr = f'{ctx.saved["diff"]} * {factor}'
        times_g = not (ctx.g_literal == 1.0 and not ctx.program.mixed)
        if ctx.program.fast and not ctx.program.mixed:
            lines = [f'{{out}} = {expr}'] + ([f'{{out}} *= {ctx.g}'] if times_g else [])
            return lines if sign > 0 else lines + ['np.negative({out}, out={out})']
        if times_g:
            expr = f'{expr} * {_paren(ctx.g)}'
        return expr if sign > 0 else f'-({expr})'
    return template


def _sigmoid_fwd(ctx):
    if not ctx.program.fast:
        return f'1.0 / (1.0 + np.exp(-{_paren(ctx.x[0])}))'
    # [speed] the same four ufuncs, in place: one array instead of four
    return ['{out} = np.negative(%s)' % ctx.x[0], 'np.exp({out}, out={out})', '{out} += 1.0',
            'np.divide(1.0, {out}, out={out})']


def _owned(ctx):
    """May the gradient's array be overwritten? (fast code only: an array made for this op's
    gradient alone, in the one dtype of the program)"""
    return ctx.program.fast and ctx.g_owned and not ctx.program.mixed


def _times_in_place(ctx, factors):
    """``g * f1 * f2 ...`` in the engine's order, as statements that reuse g's array when
    this op owns it, else make one array."""
    if _owned(ctx):
        lines = [f'{{out}} = {ctx.g}']
    else:
        lines = [f'{{out}} = {_paren(ctx.g)} * {_paren(factors[0])}']
        factors = factors[1:]
    return lines + [f'{{out}} *= {f}' for f in factors]


def _sigmoid_grad(ctx):
    if not ctx.program.fast or ctx.program.mixed:
        return f'{_paren(ctx.g)} * {ctx.ans} * (1 - {ctx.ans})'
    return _times_in_place(ctx, [ctx.ans, f'1 - {ctx.ans}'])


def _relu_grad(ctx):
    mask = f'~({ctx.x[0]} <= 0)'  # 1 at NaN too, as the engine's rule
    if not ctx.program.fast or ctx.program.mixed:
        return f'{_paren(ctx.g)} * {mask}'
    return _times_in_place(ctx, [mask])


def _tanh_grad(ctx):
    if not ctx.program.fast or ctx.program.mixed:
        return f'{_paren(ctx.g)} * (1 - {ctx.ans} * {ctx.ans})'
    return _times_in_place(ctx, [f'(1 - {ctx.ans} * {ctx.ans})'])


# -- templates: NumPy's other functions (the NumPy-dispatch primitives) --------------------------
_LN2, _LN10 = '0.6931471805599453', '2.302585092994046'  # ops._LN2, ops._LN10


def _nan_tie_mask(x, y, dtype):
    """ops._nan_tie_mask written out: maximum's share, where a NaN loses."""
    return (f'np.where(({x} > {y}) | (np.isnan({y}) & ~np.isnan({x})), 1.0, np.where({x} == {y}, 0.5, 0.0))'
            f'.astype({_dtype_text(dtype)}, copy=False)')


def _prod_grad(ctx):
    """ops._prod_grad: ans / x where x has no zero, else the product of the others (the
    rule decides on the values, so the code does too, at each run)."""
    x, axis, shape = ctx.x[0], ctx.s.get('axis'), ctx.shape[0]
    g = _paren(_kept(ctx, ctx.g))
    ans = ctx.ans if ctx.s.get('keepdims') else _kept(ctx, ctx.ans)
    axes = _axes(axis, len(shape))
    rest = tuple(i for i in range(len(shape)) if i not in axes)
    moved = ctx.program.fresh('moved')
    flat, ones, before, after = (ctx.program.fresh(n) for n in ('flat', 'ones', 'before', 'after'))
    order = tuple(int(a) for a in np.argsort(rest + axes))
    return [f'if ({x} == 0).any():  # the product of the others, exact at zeros',
            f'    {moved} = np.transpose({x}, {rest + axes})',
            f'    {flat} = {moved}.reshape({moved}.shape[:{len(rest)}] + (-1,))',
            f'    {ones} = np.ones({flat}.shape[:-1] + (1,), dtype={_dtype_text(ctx.dtype[0])})',
            f'    {before} = np.cumprod(np.concatenate([{ones}, {flat}[..., :-1]], axis=-1), axis=-1)',
            f'    {after} = np.cumprod(np.concatenate([{ones}, {flat}[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]',
            f'    {{out}} = {g} * np.transpose(({before} * {after}).reshape({moved}.shape), {order})',
            'else:',
            f'    {{out}} = {g} * ({ans} / {x})']


def _einsum_fwd(ctx):
    return f'np.einsum({ctx.s["subscripts"]!r}, {", ".join(ctx.x)})'


def _einsum_grad(ctx):
    inputs, output = ctx.s['subscripts'].replace(' ', '').split('->')
    inputs = inputs.split(',')
    i = ctx.i
    others = [s for j, s in enumerate(inputs) if j != i]
    elsewhere = set(output).union(*others)
    kept = ''.join(c for c in inputs[i] if c in elsewhere)
    operands = [ctx.g] + [x for j, x in enumerate(ctx.x) if j != i]
    expr = f"np.einsum({','.join([output] + others) + '->' + kept!r}, {', '.join(operands)})"
    if len(kept) < len(inputs[i]):
        shape = ctx.shape[i]
        expr = f'np.broadcast_to({expr}.reshape({tuple(n if c in kept else 1 for c, n in zip(inputs[i], shape))}), {shape})'
    return expr


def _pad_grad(ctx):
    parts = [f'{before}:{before + n}' for (before, _), n in zip(ctx.s['pad_width'], ctx.shape[0])]
    return f'{_paren(ctx.g)}[{", ".join(parts)}{"," if len(parts) == 1 else ""}]'


def _unary(fwd, vjp):
    return Template(fwd, (vjp,))


def _elementwise(fwd, vjp):
    return Template(fwd, (vjp,))


# The table: every primitive's forward and gradients as code, keyed by the primitive's name.
# Each mirrors its rule in ops.py / nn/functional.py (same operations, same order).
TEMPLATES = {
    # elementwise arithmetic
    'add': Template('{0} + {1}', ('{g}', '{g}')),
    'sub': Template('{0} - {1}', ('{g}', lambda c: f'-{_paren(c.g)}')),
    'mul': Template('{0} * {1}', (lambda c: _mul_g(c, c.x[1]), lambda c: _mul_g(c, c.x[0]))),
    'div': Template('{0} / {1}', (lambda c: f'{_paren(c.g)} / {_paren(c.x[1])}',
                                  lambda c: f'-{_paren(c.g)} * {c.ans} / {_paren(c.x[1])}')),
    'neg': _elementwise('-{0}', lambda c: f'-{_paren(c.g)}'),
    'pow': Template('{0} ** {1}', (_pow_base_grad, _pow_exponent_grad)),
    # elementwise functions
    'exp': _elementwise('np.exp({0})', lambda c: _mul_g(c, c.ans)),
    'log': _elementwise('np.log({0})', lambda c: f'{_paren(c.g)} / {c.x[0]}'),
    'sqrt': _elementwise('np.sqrt({0})', lambda c: f'{_paren(c.g)} * 0.5 / {c.ans}'),
    'abs': _elementwise('np.abs({0})', lambda c: f'{_paren(c.g)} * np.nan_to_num(np.sign({c.x[0]}), nan=0.0)'),
    'tanh': _elementwise('np.tanh({0})', _tanh_grad),
    'sigmoid': _elementwise(_sigmoid_fwd, _sigmoid_grad),
    'relu': _elementwise('np.maximum({0}, 0)', _relu_grad),
    'maximum': Template('np.maximum({0}, {1})', (lambda c: f'{_paren(c.g)} * {_tie_mask(c.x[0], c.x[1], c.g_dtype)}',
                                                 lambda c: f'{_paren(c.g)} * {_tie_mask(c.x[1], c.x[0], c.g_dtype)}')),
    'minimum': Template('np.minimum({0}, {1})', (lambda c: f'{_paren(c.g)} * {_tie_mask(c.x[1], c.x[0], c.g_dtype)}',
                                                 lambda c: f'{_paren(c.g)} * {_tie_mask(c.x[0], c.x[1], c.g_dtype)}')),
    'clip': Template('np.minimum(np.maximum({0}, {1}), {2})',
                     tuple((lambda c, k=k: f'{_paren(c.g)} * {_clip_masks(c)[k]}') for k in range(3))),
    'where': Template('np.where({0}, {1}, {2})', (None, 'np.where({0}, {g}, 0.0)', 'np.where({0}, 0.0, {g})')),
    'astype': Template(lambda c: f'{_paren(c.x[0])}.astype({_dtype_text(c.s["dtype"])})',
                       (lambda c: f'{_paren(c.g)}.astype({_dtype_text(c.dtype[0])})',)),
    # matrix products
    'matmul': Template('{0} @ {1}', (_matmul_grad(0), _matmul_grad(1))),
    'linear': Template(_linear_fwd, (lambda c: f'{_paren(c.g)} @ {_paren(c.x[1])}.T', _linear_grad_weight, '{g}')),
    # reductions
    'sum': Template(_reduce_fwd('sum'), (_sum_grad,), view=True),
    'mean': Template(_reduce_fwd('mean'), (_mean_grad,), view=True),
    'max': Template(_reduce_fwd('max'), (_extreme_grad,)),
    'min': Template(_reduce_fwd('min'), (_extreme_grad,)),
    'logsumexp': Template(_logsumexp_fwd, (_logsumexp_grad,)),
    'softmax': Template(_softmax_fwd, ('{ans} * ({g} - ({g} * {ans}).sum(axis={axis!r}, keepdims=True))',)),
    'log_softmax': Template(_log_softmax_fwd, ('{g} - np.exp({ans}) * {g}.sum(axis={axis!r}, keepdims=True)',)),
    # shapes (their gradients are views of the output gradient)
    'reshape': Template(lambda c: f'{_paren(c.x[0])}.reshape({tuple(c.s["shape"])})',
                        (lambda c: f'{_paren(c.g)}.reshape({c.shape[0]})',), view=True),
    'squeeze': Template(lambda c: f'np.squeeze({c.x[0]}, {_axis_text(c.s.get("axis"))})',
                        (lambda c: f'{_paren(c.g)}.reshape({c.shape[0]})',), view=True),
    'expand_dims': Template(lambda c: f'np.expand_dims({c.x[0]}, {_axis_text(c.s["axis"])})',
                            (lambda c: f'{_paren(c.g)}.reshape({c.shape[0]})',), view=True),
    'transpose': Template(_transpose_fwd, (_transpose_grad,), view=True),
    'broadcast_to': Template(lambda c: f'np.broadcast_to({c.x[0]}, {tuple(c.s["shape"])})',
                             (_broadcast_to_grad,), view=True),
    'concatenate': Template(_concatenate_fwd, (_join_grad,), view=True),
    'stack': Template(_stack_fwd, (_join_grad,), view=True),
    # indexing
    'getitem': Template(lambda c: f'{_paren(c.x[0])}[{c.index(c.s["index"])}]', (_getitem_grad,)),
    'scatter': Template(_scatter_fwd, (lambda c: f'{_paren(c.g)}[{c.index(c.s["index"])}]',), view=True),
    # nn.functional's losses and linear
    'cross_entropy': Template(_cross_entropy_fwd, (_cross_entropy_grad, None)),
    'binary_cross_entropy_with_logits': Template(
        _bce_logits_fwd, (lambda c: f'{_paren(c.g)} * (1.0 / (1.0 + np.exp(-{_paren(c.x[0])})) - {_paren(c.x[1])})',
                          lambda c: f'-{_paren(c.g)} * {_paren(c.x[0])}')),
    'mse_loss': Template(_mse_fwd, (_mse_grad(1), _mse_grad(-1))),
    # NumPy's other functions (np.sin(t), np.prod(t), np.einsum(...) on Tensors)
    'square': _unary('np.square({0})', lambda c: f'{_paren(c.g)} * 2 * {c.x[0]}'),
    'cbrt': _unary('np.cbrt({0})', lambda c: f'{_paren(c.g)} / (3 * {c.ans} * {c.ans})'),
    'reciprocal': _unary('np.reciprocal({0})', lambda c: f'-{_paren(c.g)} * {c.ans} * {c.ans}'),
    'positive': _unary('np.positive({0})', '{g}'),
    'input': _unary('{0}', '{g}'),  # ag.func's identity on an input already in a graph
    'exp2': _unary('np.exp2({0})', lambda c: f'{_paren(c.g)} * {c.ans} * {_LN2}'),
    'expm1': _unary('np.expm1({0})', lambda c: f'{_paren(c.g)} * ({c.ans} + 1)'),
    'log2': _unary('np.log2({0})', lambda c: f'{_paren(c.g)} / ({c.x[0]} * {_LN2})'),
    'log10': _unary('np.log10({0})', lambda c: f'{_paren(c.g)} / ({c.x[0]} * {_LN10})'),
    'log1p': _unary('np.log1p({0})', lambda c: f'{_paren(c.g)} / (1 + {c.x[0]})'),
    'sin': _unary('np.sin({0})', lambda c: f'{_paren(c.g)} * np.cos({c.x[0]})'),
    'cos': _unary('np.cos({0})', lambda c: f'-{_paren(c.g)} * np.sin({c.x[0]})'),
    'tan': _unary('np.tan({0})', lambda c: f'{_paren(c.g)} * (1 + {c.ans} * {c.ans})'),
    'arcsin': _unary('np.arcsin({0})', lambda c: f'{_paren(c.g)} / np.sqrt(1 - {c.x[0]} * {c.x[0]})'),
    'arccos': _unary('np.arccos({0})', lambda c: f'-{_paren(c.g)} / np.sqrt(1 - {c.x[0]} * {c.x[0]})'),
    'arctan': _unary('np.arctan({0})', lambda c: f'{_paren(c.g)} / (1 + {c.x[0]} * {c.x[0]})'),
    'sinh': _unary('np.sinh({0})', lambda c: f'{_paren(c.g)} * np.cosh({c.x[0]})'),
    'cosh': _unary('np.cosh({0})', lambda c: f'{_paren(c.g)} * np.sinh({c.x[0]})'),
    'arcsinh': _unary('np.arcsinh({0})', lambda c: f'{_paren(c.g)} / np.sqrt({c.x[0]} * {c.x[0]} + 1)'),
    'arccosh': _unary('np.arccosh({0})', lambda c: f'{_paren(c.g)} / np.sqrt({c.x[0]} * {c.x[0]} - 1)'),
    'arctanh': _unary('np.arctanh({0})', lambda c: f'{_paren(c.g)} / (1 - {c.x[0]} * {c.x[0]})'),
    'logaddexp': Template('np.logaddexp({0}, {1})', (lambda c: f'{_paren(c.g)} * np.exp({c.x[0]} - {c.ans})',
                                                      lambda c: f'{_paren(c.g)} * np.exp({c.x[1]} - {c.ans})')),
    'logaddexp2': Template('np.logaddexp2({0}, {1})', (lambda c: f'{_paren(c.g)} * np.exp2({c.x[0]} - {c.ans})',
                                                        lambda c: f'{_paren(c.g)} * np.exp2({c.x[1]} - {c.ans})')),
    'arctan2': Template('np.arctan2({0}, {1})', (  # arctan2(y, x)
        lambda c: f'{_paren(c.g)} * {c.x[1]} / ({c.x[1]} * {c.x[1]} + {c.x[0]} * {c.x[0]})',
        lambda c: f'-{_paren(c.g)} * {c.x[0]} / ({c.x[1]} * {c.x[1]} + {c.x[0]} * {c.x[0]})')),
    'hypot': Template('np.hypot({0}, {1})', (lambda c: f'{_paren(c.g)} * {c.x[0]} / {c.ans}',
                                              lambda c: f'{_paren(c.g)} * {c.x[1]} / {c.ans}')),
    'float_power': Template('np.float_power({0}, {1})', (
        lambda c: f'{_paren(c.g)} * {c.x[1]} * np.float_power({c.x[0]}, {c.x[1]} - 1)', _pow_exponent_grad)),
    'remainder': Template('np.remainder({0}, {1})', ('{g}', lambda c: f'-{_paren(c.g)} * np.floor_divide({c.x[0]}, {c.x[1]})')),
    'fmod': Template('np.fmod({0}, {1})', ('{g}', lambda c: f'-{_paren(c.g)} * np.trunc(np.true_divide({c.x[0]}, {c.x[1]}))')),
    'fmax': Template('np.fmax({0}, {1})', (lambda c: f'{_paren(c.g)} * {_nan_tie_mask(c.x[0], c.x[1], c.g_dtype)}',
                                            lambda c: f'{_paren(c.g)} * {_nan_tie_mask(c.x[1], c.x[0], c.g_dtype)}')),
    'fmin': Template('np.fmin({0}, {1})', (
        lambda c: f'{_paren(c.g)} * {_nan_tie_mask(f"(-{c.x[0]})", f"(-{c.x[1]})", c.g_dtype)}',
        lambda c: f'{_paren(c.g)} * {_nan_tie_mask(f"(-{c.x[1]})", f"(-{c.x[0]})", c.g_dtype)}')),
    'prod': Template(lambda c: f'np.multiply.reduce({c.x[0]}, axis={_axis_text(c.s.get("axis"))}'
                               f'{", keepdims=True" if c.s.get("keepdims") else ""})', (_prod_grad,)),
    'cumsum': Template(lambda c: f'np.cumsum({c.x[0]}, {c.s["axis"]!r})',
                       (lambda c: f'{_paren(c.g)}.sum(axis={c.s["axis"]!r}, keepdims=True) - '
                                  f'np.cumsum({c.g}, {c.s["axis"]!r}) + {c.g}',)),
    'flip': Template(lambda c: f'np.flip({c.x[0]}, {_axis_text(c.s.get("axis"))})',
                     (lambda c: f'np.flip({c.g}, {_axis_text(c.s.get("axis"))})',), view=True),
    'pad': Template(lambda c: f'np.pad({c.x[0]}, {tuple(map(tuple, c.s["pad_width"]))!r}, '
                              f'constant_values={literal(c.s.get("constant_values", 0)) or repr(c.s.get("constant_values"))})',
                    (_pad_grad,), view=True),
    'einsum': Template(_einsum_fwd, (_einsum_grad,), view=True),
}

# ops whose one input's gradient is the output gradient times a local factor, elementwise:
# a single-use gradient flowing into them is written inline (``(delta2 @ W2.T) * a1 * (1 - a1)``)
_INLINE_INTO = frozenset({'sigmoid', 'tanh', 'relu', 'exp', 'log', 'sqrt', 'abs', 'neg', 'square', 'sin', 'cos',
                          'sinh', 'cosh', 'log1p', 'expm1', 'log2', 'log10', 'exp2', 'arctan'})
# ops whose gradient rules return the output's shape, summed back to each input's by the engine
_BROADCASTING = frozenset({'logaddexp', 'logaddexp2', 'arctan2', 'hypot', 'float_power',
                           'remainder', 'fmod', 'fmax', 'fmin', 'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'where', 'linear', 'clip',
                           'binary_cross_entropy_with_logits'})
# names for other unnamed outputs, by op
_HINTS = {'sub': 'diff', 'div': 'ratio', 'sum': 'total', 'mean': 'avg', 'exp': 'ex', 'log': 'lg',
          'binary_cross_entropy_with_logits': 'losses', 'mse_loss': 'losses', 'cross_entropy': 'losses'}
# names for unnamed outputs: the layer's pre-activation z<k>, its activation a<k>
_PRE = frozenset({'matmul', 'linear'})
_ACT = frozenset({'sigmoid', 'tanh', 'relu'})


# -- the program: a recorded graph as values and nodes ----------------------------------------------
class _Node:
    __slots__ = ('tensor', 'op', 'inputs', 'static', 'name', 'shape', 'dtype', 'differentiable',
                 'saved', 'grad', 'grad_literal', 'grad_fresh', 'uses', 'needs_grad', 'layer', 'gname')

    def __init__(self, tensor, op, inputs, static, differentiable):
        self.tensor, self.op, self.inputs, self.static = tensor, op, tuple(inputs), dict(static or {})
        self.shape, self.dtype = tuple(tensor.data.shape), tensor.data.dtype
        self.differentiable = differentiable  # False: computed with no graph (no_grad, detach)
        self.saved, self.grad, self.grad_literal, self.grad_fresh = {}, None, None, True
        self.uses, self.needs_grad, self.name, self.layer = 0, False, None, 0
        self.gname = None


class _Leaf:
    __slots__ = ('tensor', 'value', 'name', 'shape', 'dtype', 'requires_grad', 'grad', 'grad_literal',
                 'grad_fresh', 'uses', 'needs_grad', 'hint', 'gname')

    def __init__(self, tensor, value, hint):
        self.tensor, self.value, self.hint = tensor, value, hint
        data = tensor.data if tensor is not None else np.asarray(value)
        self.shape, self.dtype = tuple(data.shape), data.dtype
        self.requires_grad = tensor is not None and tensor._requires_grad
        self.name, self.grad, self.grad_literal, self.grad_fresh = None, None, None, True
        self.uses, self.needs_grad, self.gname = 0, False, None

    @property
    def data(self):
        return self.tensor.data if self.tensor is not None else self.value


def _leaf_hint(op, i):
    """A name for an unnamed input that needs no gradient, from where it is used."""
    if op.name in ('matmul', 'linear') and i == 0:
        return 'X'
    if op.name == 'cross_entropy' and i == 1:
        return 'labels'
    if op.name in ('mse_loss', 'binary_cross_entropy_with_logits') and i == 1:
        return 'target'
    return 'c'


def identifier(name):
    """A tensor's name as a Python identifier: '0.weight' -> 'p0_weight', 'W1' -> 'W1'."""
    text = re.sub(r'\W+', '_', str(name)).strip('_') or 'v'
    if text[0].isdigit():
        text = 'p' + text
    if keyword.iskeyword(text) or text in ('np', 'grads'):
        text += '_'
    return text


class Program:
    """A graph from ``root`` back to its leaves, ready to be written out: nodes in creation
    order, leaves, names. ``trace`` (from :func:`compile`) holds ops observed with no graph
    (under ``no_grad``, on data) by their output array's id, so they are computed too."""

    def __init__(self, root, names=None, trace=None, arg_names=None, where='backward_code', extras=(),
                 fast=False):
        self.where, self.extras, self.fast = where, tuple(extras), fast
        self.names, self._next = {}, {}  # taken names; the next number to try per hint
        self.constants = []  # (name, value) arrays passed as parameters
        self.made = set()  # the names of those the writer made itself (row indices of a shape)
        self.leaves, self.nodes = [], []
        self.root_dtype = root.data.dtype
        self._collect(root, names or {}, trace or {}, arg_names or {})
        floats = {v.dtype for v in self.nodes + self.leaves if v.dtype.kind == 'f'}
        self.mixed = len(floats | {self.root_dtype}) > 1
        self._name_all(names or {}, arg_names or {})

    # building ---------------------------------------------------------------------------------
    def _collect(self, root, names, trace, arg_names):
        self.root = root
        by_tensor, by_array, order = {}, {}, []
        stack = [root, *self.extras]
        leaves = {}
        while stack:
            t = stack.pop()
            if id(t) in by_tensor:
                continue
            if t._hooks is not None:
                what = ("calls retain_grad()" if t._retain else "has a hook (register_hook)")
                raise CompileError(f"{self.where}: a tensor of shape {t.shape}{_tensor_label(t)} {what}; "
                                   "generated code cannot run hooks or keep intermediate gradients: "
                                   "remove it, or use the eager engine for this step")
            op = t._op
            if op is not None:
                if t._inputs is None:
                    raise CompileError(f"{self.where}: the graph was released by backward(); call it before "
                                       "backward(), or pass retain_graph=True to backward()")
                op = getattr(op, 'origin', op)  # recorded under detect_anomaly
                inputs, static, differentiable = t._inputs, t._static, True
            elif id(t.data) in trace:  # computed with no graph while compile recorded
                op, inputs, static = trace[id(t.data)]
                differentiable = False
            else:
                by_tensor[id(t)] = None
                continue
            by_tensor[id(t)] = (t, op, inputs, static, differentiable)
            order.append(id(t))
            stack.extend(x for x in (inputs if not op.variadic else inputs) if isinstance(x, Tensor))
        # leaves and constants, nodes in creation order
        records = sorted((by_tensor[k] for k in order), key=lambda r: r[0]._created)
        self._value_of = {}
        for t, op, inputs, static, differentiable in records:
            if op.name not in TEMPLATES:
                raise CompileError(f"{self.where}: no code template for the primitive '{op.name}'; add one to "
                                   f"autograd_lite.codegen.TEMPLATES (its forward and one gradient per input)")
            values = [self._input(x, op, i) for i, x in enumerate(inputs)]
            node = _Node(t, op, values, static, differentiable)
            self.nodes.append(node)
            self._value_of[id(t)] = node
        if id(root) not in self._value_of:
            raise CompileError(f"{self.where}: the output has no graph: no input requires grad "
                               "(or it was computed inside no_grad())")
        for extra in self.extras:
            if id(extra) not in self._value_of:
                raise CompileError(f"{self.where}: an auxiliary output (shape {extra.shape}) was not computed by "
                                   "autograd_lite ops inside the function; return only values it computes")

    def _input(self, x, op, i):
        if isinstance(x, Tensor):
            v = self._value_of.get(id(x))
            if v is None:
                v = _Leaf(x, None, _leaf_hint(op, i))
                self._value_of[id(x)] = v
                self.leaves.append(v)
            return v
        if literal(x) is not None:
            return x
        key = id(x)
        v = self._value_of.get(key)
        if v is None:
            v = _Leaf(None, x, _leaf_hint(op, i))
            self._value_of[key] = v
            self.leaves.append(v)
        return v

    def _name_all(self, names, arg_names):
        # leaves first (the function's parameters), then the nodes in order
        unnamed = 0
        for leaf in self.leaves:
            given = names.get(id(leaf.tensor)) if leaf.tensor is not None else None
            given = given or arg_names.get(id(leaf.tensor) if leaf.tensor is not None else None) \
                or arg_names.get(id(leaf.data))
            if given is None and leaf.tensor is not None and leaf.tensor.name is not None:
                given = leaf.tensor.name
            if given is None:
                if leaf.requires_grad:
                    unnamed += 1
                    given = f'w{unnamed}'
                else:
                    given = leaf.hint
            leaf.name = self.fresh(identifier(given))
        layer = 0
        for node in self.nodes:
            t, kind = node.tensor, node.op.name
            given = names.get(id(t)) or t.name
            if kind in _PRE:
                layer += 1
            node.layer = layer
            if given is not None:
                node.name = self.fresh(identifier(given))
            elif t is self.root:
                node.name = self.fresh('loss')
            elif kind in _PRE:
                node.name = self.fresh(f'z{layer}')
            elif kind == 'add' and self._is_auto_product(node.inputs[0], layer):
                # X @ W1 + b1 as two ops: the sum is the layer's z1, the product X @ W1 xw1
                product = node.inputs[0]
                node.name, product.name = product.name, self.fresh(f'xw{layer}')
            elif kind in _ACT:
                node.name = self.fresh(f'a{layer}' if layer else 'a')
            elif kind == 'softmax':
                node.name = self.fresh('probs')
            elif kind == 'log_softmax':
                node.name = self.fresh('logp')
            elif kind == 'pow' and node.inputs[1] == 2 and self.is_literal(node.inputs[1]):
                node.name = self.fresh('sq')
            else:
                node.name = self.fresh(_HINTS.get(kind, 't'))

    def _is_auto_product(self, v, layer):
        return (isinstance(v, _Node) and v.op.name == 'matmul' and v.tensor.name is None
                and v.name == f'z{layer}' and v.tensor is not self.root)

    def fresh(self, hint):
        """A name not yet taken: ``hint``, else ``hint2``, ``hint3``, ... (``z1_2`` after a digit)."""
        name, k = hint, self._next.get(hint, 1)
        while name in self.names:
            k += 1
            name = f'{hint}{k}' if not hint[-1].isdigit() else f'{hint}_{k}'
        self._next[hint] = k
        self.names[name] = True
        return name

    def constant(self, value, hint, made=False):
        """A constant array as a parameter of the function; ``made``: one the code writer made
        from the shapes (not the function's own value), so compile need not check it."""
        for name, known in self.constants:  # the same array (an index used forward and backward): one name
            if known is value:
                return name
        name = self.fresh(hint)
        self.constants.append((name, value))
        if made:
            self.made.add(name)
        return name

    # reading ------------------------------------------------------------------------------------
    def is_literal(self, v):
        return not isinstance(v, (_Node, _Leaf))

    def source(self, v):
        if isinstance(v, (_Node, _Leaf)):
            return v.name
        text = literal(v)
        return f'({text})' if text.startswith('-') else text

    def shape(self, v):
        return v.shape if isinstance(v, (_Node, _Leaf)) else np.shape(v)

    def dtype(self, v):
        return v.dtype if isinstance(v, (_Node, _Leaf)) else np.asarray(v).dtype

    def literal_text(self, value):
        """A known gradient value as source: a plain number, or typed when dtypes mix."""
        if value is None:
            return None
        value = np.asarray(value, dtype=self.root_dtype)
        if self.mixed:
            return f'{_dtype_text(self.root_dtype)}({_float_text(value)})'
        return _float_text(value)

    def divided(self, value, n):
        """Source for a known gradient divided by n, as the engine divides (in its dtype)."""
        if self.root_dtype == np.float64 or self.mixed:
            return f'{self.literal_text(value)} / {n}'  # Python divides float64 as NumPy does
        return self.literal_text(np.asarray(value, dtype=self.root_dtype) / n)

    def index_text(self, index, as_value=False):
        """Source for an index: ``1:3, idx`` inside brackets, or (``as_value``) an expression
        such as ``(slice(1, 3, None), idx)`` that np.add.at takes."""
        parts = index if isinstance(index, tuple) else (index,)
        texts = []
        for p in parts:
            if p is None:
                texts.append('None')
            elif p is Ellipsis:
                texts.append('Ellipsis' if as_value else '...')
            elif isinstance(p, slice) and as_value:
                texts.append(f'slice({p.start!r}, {p.stop!r}, {p.step!r})')
            elif isinstance(p, slice):
                texts.append(':'.join('' if b is None else repr(int(b)) for b in (p.start, p.stop))
                             + ('' if p.step is None else f':{int(p.step)}'))
            elif isinstance(p, (int, np.integer)) and not isinstance(p, bool):
                texts.append(repr(int(p)))
            else:
                texts.append(self.constant(np.asarray(p), 'index'))
        if isinstance(index, tuple):
            text = ', '.join(texts) + (',' if len(texts) == 1 else '') if texts else '()'
            return f'({text})' if as_value and texts else text
        return texts[0]

    # which gradients are needed ----------------------------------------------------------------
    def _plan_gradients(self):
        for leaf in self.leaves:
            leaf.needs_grad = leaf.requires_grad
        for node in self.nodes:  # in creation order: inputs before outputs
            node.needs_grad = node.differentiable and any(
                isinstance(v, (_Node, _Leaf)) and v.needs_grad and self._flows(node, i)
                for i, v in enumerate(node.inputs))
        root = self._value_of[id(self.root)]
        live = {id(root)}  # nodes whose gradient the root reaches
        for node in reversed(self.nodes):
            if id(node) not in live or not node.needs_grad:
                continue
            for i, v in enumerate(node.inputs):
                if isinstance(v, (_Node, _Leaf)) and v.needs_grad and self._flows(node, i):
                    v.uses += 1
                    live.add(id(v))
        return root

    def _flows(self, node, i):
        template = TEMPLATES[node.op.name]
        vjps = template.vjps
        rule = vjps[0] if node.op.variadic else vjps[i]
        engine_rule = node.op.vjps[i]
        return rule is not None and engine_rule is not None

    # writing -----------------------------------------------------------------------------------------
    def write(self, function_name='forward_backward'):
        """(source, parameter names, gradient names) of the whole function."""
        root = self._plan_gradients()
        body = ['# forward']
        for node in self.nodes:
            ctx = Ctx(self, node)
            code = _fmt(TEMPLATES[node.op.name].fwd, ctx)
            self._emit(body, node.name, code, f'{node.shape}')
        body.append('# backward')
        root.grad_literal = np.array(1, dtype=self.root_dtype)
        if root.shape != ():
            root.grad = f'np.ones({root.shape}, dtype={_dtype_text(self.root_dtype)})'
            root.grad_literal = None
        for node in reversed(self.nodes):
            if not node.needs_grad or (node.grad is None and node.grad_literal is None):
                continue
            self._backward_node(body, node)
        wanted = [leaf for leaf in self.leaves if leaf.requires_grad
                  and (leaf.grad is not None or leaf.grad_literal is not None)]
        for leaf in wanted:
            if leaf.grad is None:  # a known number: give it the leaf's shape
                leaf.grad = f'np.full({leaf.shape}, {self.literal_text(leaf.grad_literal)})'
        params = [leaf.name for leaf in self.leaves]
        result = ', '.join(f"{leaf.name!r}: {leaf.grad}" for leaf in wanted)
        signature = ', '.join(params)
        lines = ['import numpy as np', '', '', f'def {function_name}({signature}):']
        doc = (f'"""{self._value_of[id(self.root)].name} and the gradients of '
               f'{", ".join(leaf.name for leaf in wanted) or "nothing"}; generated by autograd_lite."""')
        lines.append('    ' + doc)
        if self.fast:
            kept = {root.name, *(leaf.grad for leaf in wanted),
                    *(self._value_of[id(t)].name for t in self.extras)}
            body = _free_dead_values(body, kept)
        lines += ['    ' + line for line in body]
        aux = ''.join(f', {self._value_of[id(t)].name}' for t in self.extras)
        lines.append(f'    return {root.name}, {{{result}}}{aux}')
        return '\n'.join(lines) + '\n', params, wanted

    def _emit(self, body, name, code, comment):
        if isinstance(code, list):
            for line in code[:-1]:
                body.append(line.replace('{out}', name))
            body.append(f'{code[-1].replace("{out}", name)}  # {comment}')
        else:
            body.append(f'{name} = {code}  # {comment}')

    def _backward_node(self, body, node):
        template = TEMPLATES[node.op.name]
        ctx = Ctx(self, node)
        ctx.g = node.grad if node.grad is not None else self.literal_text(node.grad_literal)
        if ctx.g.startswith('-'):
            ctx.g = f'({ctx.g})'
        ctx.g_literal = None if node.grad_literal is None else float(node.grad_literal)
        ctx.g_dtype = node.dtype
        # the gradient's array was made for this op alone, which reads it once (one input)
        ctx.g_owned = node.grad_fresh and node.grad is not None and len(node.inputs) == 1
        for i, v in enumerate(node.inputs):
            if not (isinstance(v, (_Node, _Leaf)) and v.needs_grad and self._flows(node, i)):
                continue
            ctx.i = i
            rule = template.vjps[0] if node.op.variadic else template.vjps[i]
            folded = self._fold(node, i, ctx)
            if folded is not None:
                self._contribute_literal(body, v, folded)
                continue
            code = _fmt(rule, ctx)
            fresh = not template.view
            if isinstance(code, list):
                target = self._grad_name(v) if v.grad is None else self.fresh(f'{self._grad_name(v)}_part')
                self._emit(body, target, code, f'{v.shape}')
                code, fresh = target, True
            note = None
            if node.op.name in _BROADCASTING and (node.op.name != 'linear' or i == 2):
                # the rule's result has the output's shape (linear: the bias's only)
                code, note = _unbroadcast_text(code, node.shape, v.shape, self.fast)
                if note is not None:
                    fresh = True
            self._contribute(body, v, code, fresh, note)

    def _fold(self, node, i, ctx):
        """The gradient for input i when it is a known number (scalar ops on a known
        gradient, e.g. ``0.5 * J``), computed as the engine computes it; else None."""
        lit = node.grad_literal
        if lit is None or node.shape != () or node.inputs[i].shape != ():
            return None
        name, other = node.op.name, node.inputs[1 - i] if len(node.inputs) == 2 else None
        if name in ('add',) or (name == 'sub' and i == 0):
            return lit
        if name == 'sub':
            return -lit
        if name == 'neg':
            return -lit
        if name == 'mul' and self.is_literal(other):
            return lit * other
        if name == 'div' and i == 0 and self.is_literal(other):
            return lit / other
        return None

    def _grad_name(self, v):
        if v.gname is None:
            if isinstance(v, _Node) and v.tensor.name is None and v.name == f'z{v.layer}':
                hint = f'delta{v.layer}'  # a layer's pre-activation: the delta of hand-derived backprop
            else:
                hint = f'd{v.name}'
            v.gname = self.fresh(hint)
        return v.gname

    def _contribute_literal(self, body, v, value):
        if v.grad is None and v.grad_literal is None and v.uses == 1:
            v.grad_literal = np.asarray(value, dtype=self.root_dtype)
            return
        text = self.literal_text(value)
        self._contribute(body, v, text if v.shape == () else f'np.full({v.shape}, {text})', True, None)

    def _contribute(self, body, v, code, fresh, note):
        comment = note if note is not None else f'{v.shape}'
        bare = re.fullmatch(r'\w+', code) is not None
        if v.grad_literal is not None:  # an earlier known number joins as an array
            v.grad = self.literal_text(v.grad_literal)
            v.grad_literal = None
        if isinstance(v, _Leaf) and self.mixed:
            # dtypes mix: as the engine keeps .grad, each share cast into the leaf's dtype and added there
            name = self._grad_name(v)
            if v.grad is None:
                body.append(f'{name} = np.array({code}, dtype={_dtype_text(v.dtype)})  # {comment}')
            else:
                body.append(f'{name} += {code}  # {comment}, accumulated')
            v.grad, v.grad_fresh = name, True
            return
        if v.grad is None:
            if v.uses == 1 and bare:  # the same array under another name: no statement
                v.grad, v.grad_fresh = code, False
                return
            if (v.uses == 1 and isinstance(v, _Node) and v.op.name in _INLINE_INTO
                    and note is None):
                v.grad, v.grad_fresh = _paren(code), fresh  # written inline where it is used
                return
            name = self._grad_name(v)
            body.append(f'{name} = {code}  # {comment}')
            v.grad, v.grad_fresh = name, fresh and not bare
        else:
            name = self._grad_name(v)
            body.append(f'{name} = {v.grad} + {_paren(code) if not bare else code}  # {comment}, accumulated')
            v.grad, v.grad_fresh = name, True


_TOKEN = re.compile(r'[A-Za-z_]\w*')
_ASSIGNED = re.compile(r'^([A-Za-z_]\w*) = ')


def _free_dead_values(body, kept):
    """[speed] ``del`` each array the function made, right after its last use, so that
    NumPy reuses its memory while it is still in the cache, as a hand-written loop's
    temporaries are (W4's 2000-op chain keeps 3 live arrays instead of 4000)."""
    made, last = set(), {}
    for i, line in enumerate(body):
        code = line.split('  #', 1)[0]
        if code.startswith('#'):
            continue
        assigned = _ASSIGNED.match(code)
        for name in _TOKEN.findall(code):
            if name in made:
                last[name] = i
        if assigned:
            made.add(assigned.group(1))
            last.setdefault(assigned.group(1), i)
    dead = {}
    for name, i in last.items():
        if name not in kept:
            while i + 1 < len(body) and (body[i + 1].startswith((' ', 'else', 'elif'))):
                i += 1  # not inside an if/else block: after it
            dead.setdefault(i, []).append(name)
    out = []
    for i, line in enumerate(body):
        out.append(line)
        if i in dead:
            out.append(f'del {", ".join(sorted(dead[i]))}')
    return out


def _tensor_label(t):
    return f" ('{t.name}')" if t.name else (f", made by {t._op.name}" if t._op is not None else '')


# -- backward_code ------------------------------------------------------------------------------------
class GeneratedCode(str):
    """The source of a generated function (a ``str``), with what is needed to run it:

    * ``function_name``: the function's name in the source;
    * ``args``: ``{parameter name: array}``, the values the graph was recorded with (its
      inputs, parameters and constant arrays), in the function's parameter order;
    * ``grad_names``: the names of the gradients it returns, ``{'W1': W1_tensor, ...}``;
    * ``function()``: the function itself (the source executed in a fresh namespace);
    * ``run()``: ``function()(**args)``: ``(loss, {name: gradient})``."""

    def __new__(cls, source, function_name, args, grads):
        self = super().__new__(cls, source)
        self.function_name, self.args, self.grad_names = function_name, args, grads
        return self

    def function(self):
        namespace = {}
        exec(compile_source(str(self), f'<autograd_lite generated {self.function_name}>'), namespace)
        return namespace[self.function_name]

    def run(self):
        return self.function()(**self.args)


def compile_source(source, filename):
    """Python's built-in compile (this module's ``compile`` is the decorator)."""
    import builtins
    return builtins.compile(source, filename, 'exec')


def _names_of(names):
    """``names``: a Module (its parameters' dotted names) or a mapping tensor -> name."""
    if names is None:
        return {}
    if hasattr(names, 'named_parameters'):
        return {id(p): n for n, p in names.named_parameters()}
    return {id(t): n for t, n in dict(names).items()}


def backward_code(loss, names=None, function_name='forward_backward', fast=False):
    """The source of a NumPy function computing ``loss`` and the gradients of every leaf
    that requires grad, from the recorded graph of ``loss`` (before ``backward()``, or
    after ``backward(retain_graph=True)``).

    Returns a :class:`GeneratedCode`: a ``str`` with ``.args`` (the parameter values) and
    ``.run()``. ``names`` may give names: a Module (its parameters' dotted names, as
    identifiers: ``0.weight`` -> ``p0_weight``) or a mapping ``{tensor: 'W1'}``; otherwise
    each tensor's ``.name`` is used. The function's parameters are the graph's leaves
    (inputs, parameters, constant arrays); it returns ``(loss, {name: gradient})``.
    ``fast=True`` writes the code :func:`compile` runs: the same numbers, with arrays
    updated in place and reductions called without NumPy's Python wrappers.

    >>> W = ag.Tensor(np.ones((4, 1)), requires_grad=True, name='W')
    >>> loss = (ag.Tensor(np.ones((3, 4)), name='X') @ W).sum()
    >>> print(ag.backward_code(loss))      # doctest: +SKIP
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"backward_code: expected the loss Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"backward_code: the loss must have one element, got shape {loss.shape}; "
                         "reduce it first, e.g. loss.sum() or loss.mean()")
    program = Program(loss, _names_of(names), fast=fast)
    source, params, wanted = program.write(function_name)
    args = {leaf.name: leaf.data for leaf in program.leaves}
    args.update(program.constants)
    if program.constants:
        source, params = _with_constants(source, function_name, params, program.constants)
    return GeneratedCode(source, function_name, args, {leaf.name: leaf.tensor for leaf in wanted})


def _with_constants(source, function_name, params, constants):
    names = params + [name for name, _ in constants]
    old = f'def {function_name}({", ".join(params)}):'
    return source.replace(old, f'def {function_name}({", ".join(names)}):', 1), names


# -- compile ---------------------------------------------------------------------------------------------
_MISS = object()  # a compiled step's answer when its guards fail: record again
_thread_ids = threading.get_ident


def _observing(trace, keep):
    """Install an op observer (engine.set_op_observer) that notes, in this thread, each op's
    inputs and static arguments by its output array's id, so that values computed with no
    graph (under no_grad, on data, detached) are computed by the generated code too; it
    passes every op on to the observer it replaced. Returns that one, to put back."""
    me, previous = _thread_ids(), None

    def observe(op, inputs, arrays, static, out):
        if _thread_ids() == me:
            trace[id(out.data)] = (op, tuple(inputs), static)
            keep.append(out)
        if previous is not None:
            previous(op, inputs, arrays, static, out)
    previous = engine.set_op_observer(observe)
    return previous


def _arg_key(args):
    key = []
    for a in args:
        if isinstance(a, Tensor):
            key.append(('T', a.data.shape, a.data.dtype.str, a._requires_grad))
        elif isinstance(a, np.ndarray):
            key.append(('A', a.shape, a.dtype.str))
        elif a is None or isinstance(a, (bool, int, float, str)):
            key.append(('V', type(a), a))
        else:
            key.append(('O', id(a)))
    return tuple(key)


class _Recording:
    """One recording of ``fn`` for one key (argument shapes and dtypes): the generated
    function and the glue that feeds it and stores its gradients."""

    def __init__(self, source, glue_source, namespace, suspects, arg_copies):
        self.source, self.glue_source = source, glue_source
        self.values = namespace['_values']  # (*args) -> (loss, grads tuple) or _MISS
        self.step = namespace['_step']      # (*args) -> loss Tensor, gradients accumulated; or _MISS
        self.suspects, self.arg_copies = suspects, arg_copies
        self.trusted = not suspects


class Compiled:
    """``fn`` compiled: see :func:`compile`. Calling it returns the loss (a Tensor without
    history) and accumulates the gradients into ``.grad``; ``source`` is the generated code
    of the latest recording, ``recordings`` how many times ``fn`` was recorded."""

    def __init__(self, fn, check=False, has_aux=False, rtol=1e-9, atol=1e-12):
        if not callable(fn):
            raise TypeError(f"compile: expected a function returning a scalar loss Tensor, got {type(fn).__name__}")
        self.fn, self.check_each_call, self.rtol, self.atol = fn, bool(check), rtol, atol
        self.has_aux = bool(has_aux)
        functools.update_wrapper(self, fn)
        self._cache, self._latest, self.recordings = {}, None, 0
        try:
            self._arg_names = [p.name for p in inspect.signature(fn).parameters.values()
                               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            self._arg_names = []

    def __get__(self, obj, owner=None):
        """As a method's decorator: the instance is the first argument (the same instance
        keeps its recordings; another instance records its own)."""
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def reset(self):
        """Forget every recording: the next call records ``fn`` again (after a change that
        compile cannot see, such as a layer added to a model that ``fn`` uses)."""
        self._cache, self._latest = {}, None

    @property
    def source(self):
        """The generated code that the latest calls ran (None before the first call)."""
        return None if self._latest is None else self._latest.source

    def __call__(self, *args):
        latest = self._latest
        if latest is not None and latest.trusted and not self.check_each_call:
            out = latest.step(*args)
            if out is not _MISS:
                return out
        return self._slow(args)

    def _slow(self, args):
        rec = self._cache.get(_arg_key(args))
        if rec is not None and rec.trusted:
            if self.check_each_call:
                self.check(*args)
            out = rec.step(*args)
            if out is not _MISS:
                self._latest = rec
                return out
        return self._record(args, rec)

    def _record(self, args, previous):
        """Run ``fn`` eagerly, write its code, check the code against the engine, and
        accumulate the engine's gradients (this call is the eager call)."""
        _refuse_debug_modes()
        start = Tensor._make(np.zeros(0))._created
        trace, keep = {}, []
        before = _observing(trace, keep)
        try:
            loss, aux = self._split(self.fn(*args))
        finally:
            engine.set_op_observer(before)
        self._aux_kind = aux
        program = Program(loss, {}, trace, self._arg_binding_names(args), where='compile', fast=True,
                          extras=aux if isinstance(aux, tuple) else (aux,) if aux is not None else ())
        source, params, wanted = program.write('forward_backward')
        if program.constants:
            source, params = _with_constants(source, 'forward_backward', params, program.constants)
        leaves = [leaf for leaf in program.leaves if leaf.requires_grad]
        # the engine's gradients, not accumulated yet: what this call stores, and the reference
        found = engine._run((loss,), (engine._root_grad(loss, None),), False, False,
                            wanted=set(leaf.tensor for leaf in leaves))
        reference = {leaf.name: found.get(leaf.tensor) for leaf in wanted}
        glue, namespace, suspects = self._glue(program, params, wanted, args, start, source)
        for leaf in leaves:  # as backward() would
            g = found.get(leaf.tensor)
            if g is not None:
                engine._accumulate(leaf.tensor, g, False, holders=3)
        rec = _Recording(source, glue, namespace, suspects, None)
        # the generated code must give the engine's numbers (a failure here is a bug: say so)
        got = rec.values(*args)
        if got is _MISS:
            raise CompileError("compile: the generated step refused the arguments it was recorded with "
                               "(a bug in autograd_lite.codegen; please report it with fn)")
        _compare(loss.data, got[0], reference, dict(zip([w.name for w in wanted], got[1])),
                 self.rtol * 1e3, self.atol * 1e3, "compile: the generated code disagrees with the engine "
                 "(a bug in autograd_lite.codegen; please report it)")
        if suspects:
            rec.arg_copies = [np.array(a.data if isinstance(a, Tensor) else a, copy=True)
                              if isinstance(a, (Tensor, np.ndarray)) else a for a in args]
            if previous is not None and previous.source == source and not previous.trusted:
                rec = self._settle(previous, rec, args)
        self._cache[_arg_key(args)] = rec
        if len(self._cache) > 16:
            self._cache.pop(next(iter(self._cache)))
        self._latest = rec
        self.recordings += 1
        if not self.has_aux:
            return Tensor._make(np.asarray(loss.data))
        detached = tuple(Tensor._make(t.data) for t in aux) if isinstance(aux, tuple) else Tensor._make(aux.data)
        return Tensor._make(np.asarray(loss.data)), detached

    def _split(self, out):
        """(loss, aux): aux None, a Tensor or a tuple of Tensors (``has_aux=True``)."""
        aux = None
        if self.has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("compile(has_aux=True): the function must return (loss, aux), aux a Tensor "
                                f"or a tuple of Tensors; got {type(out).__name__}")
            out, aux = out
            aux = tuple(aux) if isinstance(aux, (tuple, list)) else aux
            if not all(isinstance(t, Tensor) for t in (aux if isinstance(aux, tuple) else (aux,))):
                raise TypeError("compile(has_aux=True): aux must be a Tensor or a tuple of Tensors")
        _check_loss(out)
        return out, aux

    def _settle(self, first, now, args):
        """Arrays made during a call other than by autograd_lite's ops (plain NumPy on the
        arguments, random numbers, F.one_hot) are frozen into the code. A second recording
        shows which they are: the same array object (a constant the function holds) is
        fine; equal values in a new array are constants once the arguments have changed (or
        when there are none); other values mean the code cannot stand for the function."""
        for (name, old, old_copy), (_, new, _) in zip(first.suspects, now.suspects):
            if new is old:
                continue
            if not (old_copy.shape == new.shape and np.array_equal(old_copy, new, equal_nan=True)):
                raise CompileError(
                    f"compile: the value {name} (shape {old_copy.shape}) is computed from the arguments or "
                    "changes between calls outside autograd_lite's ops (plain NumPy, random numbers, "
                    "F.one_hot), so the generated code would freeze it; pass it to the function as an "
                    "argument, or compute it with autograd_lite ops")
        arrays = [a for a in now.arg_copies if isinstance(a, np.ndarray)]
        if not arrays or not all(_same(a, b) for a, b in zip(first.arg_copies, now.arg_copies)):
            now.trusted = True
        return now

    def _arg_binding_names(self, args):
        names = {}
        for i, a in enumerate(args):
            name = self._arg_names[i] if i < len(self._arg_names) else f'arg{i}'
            if isinstance(a, Tensor):
                names[id(a)] = a.name or name
                names[id(a.data)] = a.name or name
            elif isinstance(a, np.ndarray):
                names[id(a)] = name
        return names

    def _glue(self, program, params, wanted, args, start, source):
        """The code around the generated function: check that the arguments and parameters
        are those it was recorded for (else answer _MISS), read the arrays, call it, store
        the gradients into .grad as the engine does."""
        env = {'np': np, '_ndarray': np.ndarray, '_Tensor': Tensor, '_MISS': _MISS, '_make': Tensor._make,
               '_mode': engine._mode, '_debug': debug._state}
        arg_of_tensor = {id(a): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        arg_of_array = {}
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                arg_of_array[id(a.data)] = i
            elif isinstance(a, np.ndarray):
                arg_of_array[id(a)] = i
        anames = [f'a{i}' for i in range(len(args))]
        # (the debug modes check ops as they run: under them each call runs fn eagerly)
        guard = ['if not _mode.enabled or _debug.anomaly or _debug.strict:', '    return _MISS']
        for i, a in enumerate(args):
            n = anames[i]
            if isinstance(a, Tensor):
                env[f'_d{i}'] = a.data.dtype
                guard += [f'if {n}.__class__ is not _Tensor or {n}._requires_grad is not {a._requires_grad} '
                          f'or {n}._hooks is not None:', '    return _MISS',
                          f'{n}_ = {n}.data', f'if {n}_.shape != {a.data.shape!r} or {n}_.dtype != _d{i}:',
                          '    return _MISS']
            elif isinstance(a, np.ndarray):
                env[f'_d{i}'] = a.dtype
                guard += [f'if {n}.__class__ is not _ndarray or {n}.shape != {a.shape!r} or {n}.dtype != _d{i}:',
                          '    return _MISS', f'{n}_ = {n}']
            elif a is None or isinstance(a, (bool, int, float, str)):
                env[f'_v{i}'] = a
                guard += [f'if {n}.__class__ is not {type(a).__name__} or {n} != _v{i}:' if a is not None
                          else f'if {n} is not None:', '    return _MISS']
            else:
                env[f'_o{i}'] = a
                guard += [f'if {n} is not _o{i}:', '    return _MISS']
        feed, suspects, holders = [], [], {}
        known = _held_by(self.fn)
        values = dict((leaf.name, leaf) for leaf in program.leaves)
        constants = dict(program.constants)
        for k, name in enumerate(params):
            leaf = values.get(name)
            t = leaf.tensor if leaf is not None else None
            data = leaf.data if leaf is not None else constants[name]
            if t is not None and id(t) in arg_of_tensor:
                feed.append(f'{anames[arg_of_tensor[id(t)]]}_')
                holders[name] = anames[arg_of_tensor[id(t)]]
            elif isinstance(data, np.ndarray) and id(data) in arg_of_array:
                feed.append(f'{anames[arg_of_array[id(data)]]}_')
            elif t is not None and (t._requires_grad or t._created < start):
                # a parameter or a tensor made before the call: read its data at each call
                env[f'_p{k}'], env[f'_s{k}'], env[f'_t{k}'] = t, t.data.shape, t.data.dtype
                guard += [f'p{k} = _p{k}.data',
                          f'if _p{k}._requires_grad is not {t._requires_grad} or _p{k}._hooks is not None '
                          f'or p{k}.shape != _s{k} or p{k}.dtype != _t{k}:', '    return _MISS']
                feed.append(f'p{k}')
                holders[name] = f'_p{k}'
            else:  # made during the call, not from the arguments by an op: frozen into the code
                env[f'_c{k}'] = data
                feed.append(f'_c{k}')
                if np.ndim(data) and id(data) not in known and name not in program.made:
                    suspects.append((name, data, np.array(data, copy=True)))
        returns = [leaf.grad for leaf in wanted]
        call = f'_fb({", ".join(feed)})'
        lines = [f'def _values({", ".join(anames)}):'] + ['    ' + g for g in guard]
        lines += [f'    return {call}', '']
        lines += [f'def _step({", ".join(anames)}):'] + ['    ' + g for g in guard]
        out = ', '.join(f'g{j}' for j in range(len(wanted)))
        aux_target = ', aux' if program.extras else ''
        lines.append(f'    loss, ({out}{"," if len(wanted) == 1 else ""}){aux_target} = {call}' if wanted
                     else f'    loss, _{aux_target} = {call}')
        for j, leaf in enumerate(wanted):
            holder = holders.get(leaf.name)
            if holder is None:  # a leaf made during the call: nobody can see its .grad
                continue
            env[f'_gd{j}'] = leaf.dtype
            keep = (leaf.grad_fresh and re.fullmatch(r'\w+', leaf.grad) is not None
                    and leaf.grad not in values and leaf.grad not in constants)
            first = f'g{j}' if keep else f'np.array(g{j}, dtype=_gd{j})'
            lines += [f'    if {holder}.grad is None:',
                      f'        {holder}.grad = {first} if g{j}.__class__ is _ndarray and g{j}.dtype == _gd{j} '
                      f'else np.array(g{j}, dtype=_gd{j})' if keep else f'        {holder}.grad = {first}',
                      '    else:', f'        {holder}.grad += g{j}']
        if not program.extras:
            lines.append('    return _make(np.asarray(loss))')
        elif self.has_aux and isinstance(self._aux_kind, tuple):
            lines.append('    return _make(np.asarray(loss)), tuple(_make(a) for a in aux)')
        else:
            lines.append('    return _make(np.asarray(loss)), _make(aux[0])')
        glue = '\n'.join(lines) + '\n'
        extras = [program._value_of[id(t)].name for t in program.extras]
        tail = f', ({", ".join(extras)},)' if extras else ''
        tuple_source = source.replace(
            '    return ' + source.rsplit('    return ', 1)[1],
            f'    return {program._value_of[id(program.root)].name}, '
            f'({", ".join(returns)}{"," if len(returns) == 1 else ""}){tail}\n')
        exec(compile_source(tuple_source, '<autograd_lite compiled step>'), env)
        env['_fb'] = env['forward_backward']
        exec(compile_source(glue, '<autograd_lite compiled glue>'), env)
        return glue, env, suspects

    def check(self, *args):
        """Run ``fn(*args)`` eagerly and the compiled code, compare the loss and every
        gradient (nothing is accumulated); raises :class:`CompileError` naming the first
        that differs, else returns ``{name: max abs difference}``."""
        rec = self._cache.get(_arg_key(args))
        if rec is None:
            raise CompileError("compile: check() needs a recording for these argument shapes; call the "
                               "compiled function once first")
        got = rec.values(*args)
        if got is _MISS:
            raise CompileError("compile: check(): the parameters changed since recording; call the compiled "
                               "function (it records again) and check after")
        loss, _ = self._split(self.fn(*args))
        program = Program(loss, {}, None, self._arg_binding_names(args), where='compile')
        program._plan_gradients()
        leaves = [leaf for leaf in program.leaves if leaf.requires_grad]
        found = engine._run((loss,), (engine._root_grad(loss, None),), False, False,
                            wanted=set(leaf.tensor for leaf in leaves))
        names = [leaf.name for leaf in leaves if found.get(leaf.tensor) is not None]
        reference = {leaf.name: found.get(leaf.tensor) for leaf in leaves if found.get(leaf.tensor) is not None}
        return _compare(loss.data, got[0], reference, dict(zip(names, got[1])),
                        self.rtol, self.atol, "compile(check=True): the compiled function disagrees with the "
                        "eager one")


def _held_by(fn):
    """ids of the arrays ``fn`` holds before any call: in its closure and defaults, in the
    globals it names, and one attribute level down (a model's buffers). Those are constants
    read by reference, not values made during the call."""
    objects = [c.cell_contents for c in (getattr(fn, '__closure__', None) or ()) if _filled(c)]
    objects += list(getattr(fn, '__defaults__', None) or ())
    code, glob = getattr(fn, '__code__', None), getattr(fn, '__globals__', {})
    if code is not None:
        objects += [glob[n] for n in code.co_names if n in glob]
    found = set()
    for obj in objects:
        for v in [obj] + (list(vars(obj).values()) if hasattr(obj, '__dict__') and not isinstance(obj, type) else []):
            if isinstance(v, np.ndarray):
                found.add(id(v))
            elif isinstance(v, Tensor):
                found.add(id(v.data))
    return found


def _filled(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and np.array_equal(a, b, equal_nan=True)
    return a is b or a == b


def _compare(loss, got_loss, reference, got, rtol, atol, message):
    """{name: max abs difference}; raises CompileError at the first value out of tolerance."""
    diffs = {}
    pairs = [('loss', np.asarray(loss), np.asarray(got_loss))]
    if set(reference) != set(got):
        raise CompileError(f"{message}: gradients of {sorted(reference)} expected, got {sorted(got)}")
    pairs += [(name, np.asarray(reference[name]), np.asarray(got[name])) for name in reference]
    for name, want, have in pairs:
        if want.shape != have.shape:
            raise CompileError(f"{message}: {name} has shape {have.shape}, the engine's {want.shape}")
        scale = float(np.max(np.abs(want), initial=0.0))
        diff = float(np.max(np.abs(want.astype(np.float64) - have.astype(np.float64)), initial=0.0))
        tol = atol + rtol * scale
        if want.dtype == np.float32 or have.dtype == np.float32:
            tol = max(tol, 1e-5 * max(scale, 1.0))
        if not diff <= tol:
            raise CompileError(f"{message}: {name} differs by {diff:.3g} (largest value {scale:.3g})")
        diffs[name] = diff
    return diffs


def _refuse_debug_modes():
    if debug._state.anomaly:
        raise CompileError("compile: cannot record inside detect_anomaly(): anomaly mode checks each gradient "
                           "rule as the engine runs it, and the compiled code runs none; call the function "
                           "uncompiled (or leave detect_anomaly) to debug it")


def _check_loss(loss):
    if not isinstance(loss, Tensor):
        raise TypeError(f"compile: the function must return the loss as a Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"compile: the function must return a scalar loss, got shape {loss.shape}; "
                         "reduce it first, e.g. loss.sum() or loss.mean()")
    if not loss._requires_grad:
        raise RuntimeError("compile: the loss does not require grad and has no graph; "
                           "did a parameter have requires_grad=True, and was this outside no_grad()?")


def compile(fn=None, *, check=False, has_aux=False):
    """Compile ``fn(*args) -> scalar loss Tensor`` into generated NumPy code; also a
    decorator (``@ag.compile`` or ``@ag.compile(check=True)``).

    The first call records ``fn`` eagerly (its gradients are the engine's), writes its
    forward and backward as code (:func:`backward_code`) and checks that code against the
    engine; later calls run only the code. Each call returns the loss (a Tensor without
    history) and accumulates into ``.grad`` of every leaf that requires grad, as
    ``fn(*args).backward()`` does, so optimizers work unchanged.

    It records again when the arguments' shapes or dtypes change, when a Python number or
    other object argument changes, or when a parameter is frozen, unfrozen or changes shape.
    As with ``torch.jit.trace`` and ``jax.jit``, Python control flow and Python numbers
    that depend on values are frozen at recording. ``check=True`` runs the eager function
    beside the code at every call and raises :class:`CompileError` when they differ;
    ``compiled.check(*args)`` does it once. Hooks, ``retain_grad()`` and
    ``detect_anomaly()`` cannot be compiled: a :class:`CompileError` says which.

    ``has_aux=True``: ``fn`` returns ``(loss, aux)``, ``aux`` a Tensor or a tuple of Tensors
    it computed (the scores, say); the compiled function returns ``(loss, aux)``, both
    without history, as ``jax.value_and_grad(..., has_aux=True)`` does.
    """
    if fn is None:
        return lambda f: Compiled(f, check=check, has_aux=has_aux)
    return Compiled(fn, check=check, has_aux=has_aux)
