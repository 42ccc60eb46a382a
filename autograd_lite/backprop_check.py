"""A hand-written backward pass checked link by link, in the order it runs.

A learner's backprop is a chain: ``delta3`` (the gradient at ``z2``), then ``dJdW2``,
``delta2`` (at ``z1``), ``dJdW1``; each link is computed from the one before, so one slip
spoils every link after it. :func:`check_backprop` takes the loss and
``{z2: delta3, W2: dJdW2, z1: delta2, W1: dJdW1}`` (Tensors of the loss's graph, or their
names), computes the true gradient at each with :func:`autograd_lite.grad` (no ``.grad``
is left behind), and reports the links in backward order with
:func:`~autograd_lite.compare.compare_pair`'s verdicts and the first link that is wrong.

For a first wrong link that no simple relation explains, it tests two mistakes made with
activations, by re-running the graph with that mistake in it: the activation's derivative
used in the forward pass where the activation belongs, and a delta that leaves out the
activation's derivative. A mistake is named only when it reproduces the hand values.
"""
import dataclasses
from collections import Counter
from collections.abc import Mapping

import numpy as np

from .compare import WRONG, GradientReport, _close, _verdict_text, compare_pair, gradient_array
from .engine import enable_grad, grad
from .tensor import Tensor
from .viz.graph import walk

# op name -> (its derivative written through its output a, the range of the derivative's
# values, the derivative as text in the output's name)
_ACTIVATIONS = {
    'sigmoid': (lambda a: a * (1 - a), '(0, 0.25]', '{a} * (1 - {a})'),
    'tanh': (lambda a: 1 - a * a, '(0, 1]', '1 - {a}**2'),
}


class BackpropReport(GradientReport):
    """:class:`~autograd_lite.compare.GradientReport` of the links of a backward pass, in
    backward order, with ``first_wrong`` (the first link that is not ok, or None), a
    line that says which links inherit its error, and ``truth``: {link name: the true
    gradient (ndarray)}, what each hand value should have been."""
    kind = 'link'

    def __init__(self, rows, labels, atol, rtol, first_wrong, summary, truth):
        super().__init__(rows, labels, atol, rtol)
        self.first_wrong = first_wrong
        self.summary = summary
        self.truth = truth

    def notes(self):
        return ([self.summary] if self.summary else []) + super().notes()

    def as_dict(self):
        return dict(super().as_dict(), first_wrong=self.first_wrong)


def check_backprop(loss, hand, atol=1e-8, rtol=1e-5, labels=('hand', 'autograd'), batch_size=None):
    """Check hand-derived gradients at tensors of ``loss``'s graph, in backward order.

    ``loss``: a one-element Tensor. ``hand``: a mapping from Tensors of its graph
    (intermediates such as ``z2``, leaves such as ``W2``) or their ``name`` strings to the
    hand-derived gradients (arrays of the tensors' shapes). The true gradients come from
    ``ag.grad(loss, ..., retain_graph=True)``: nothing is accumulated into ``.grad`` and
    the graph stays usable. ``batch_size`` names factors N and 1/N (default: the most
    common leading size of the graph's 2-d results). Tolerances as in compare_gradients.

    Returns a :class:`BackpropReport`: ``report.verdicts`` ({link name: verdict}, in the
    order the backward pass reaches the links: later-created first, a leaf right after the
    op that uses it), ``report.first_wrong``, ``report.ok``; print it for the table.

    >>> report = check_backprop(loss, {z2: delta3, W2: dJdW2, z1: delta2, W1: dJdW1})
    >>> report.first_wrong
    'z1'
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"check_backprop: loss must be a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise ValueError(f"check_backprop: loss has shape {loss.shape}; it must have one element "
                         "(e.g. reduce it with .sum() or .mean())")
    if not loss.requires_grad:
        raise ValueError("check_backprop: loss does not require grad, so it has no graph; did an input "
                         "have requires_grad=True, and was it computed outside no_grad()?")
    if not isinstance(hand, Mapping) or not hand:
        got = f"got {type(hand).__name__}" if not isinstance(hand, Mapping) else "got an empty one"
        raise TypeError(f"check_backprop: hand must be a mapping from Tensors of the graph (or their names) "
                        f"to gradients, e.g. {{z2: delta3, W2: dJdW2}}; {got}")
    nodes = walk([loss])
    released = [t for t in nodes if t._op is not None and t._inputs is None]
    if released:
        raise RuntimeError(f"check_backprop: backward() already released the graph behind "
                           f"'{released[-1]._op.name}'; call check_backprop before loss.backward(), or "
                           "use loss.backward(retain_graph=True)")
    links = _links(nodes, hand)
    links.sort(key=_backward_position(nodes), reverse=True)
    if batch_size is None:
        batch_size = _batch_size(nodes)
    tensors = [t for _, t, _ in links]
    with enable_grad():
        truths = [_array(g, t) for g, t in
                  zip(grad(loss, tensors, retain_graph=True, allow_unused=True), tensors)]
    labels = tuple(labels)
    rows = [compare_pair(name, h, g, atol, rtol, labels, batch_size)
            for (name, _, h), g in zip(links, truths)]
    truth = {row.name: g for row, g in zip(rows, truths)}
    first = next((i for i, row in enumerate(rows) if not row.ok), None)
    if first is None:
        return BackpropReport(rows, labels, atol, rtol, None, '', truth)
    mistake = _explain(nodes, links, rows, first, atol, rtol)
    rows, inherited = _inherited(links, truths, rows, first, mistake, atol, rtol)
    return BackpropReport(rows, labels, atol, rtol, rows[first].name, _summary(links, rows, first, inherited),
                          truth)


# -- the links -------------------------------------------------------------------------------------
def _links(nodes, hand):
    """[(name, tensor, hand array)] for hand's keys, each a Tensor of the graph or a name."""
    in_graph = set(nodes)
    by_name = {}
    for t in nodes:
        if t.name is not None:
            by_name.setdefault(t.name, []).append(t)
    links, seen = [], set()
    for key, value in hand.items():
        if isinstance(key, str):
            found = by_name.get(key, [])
            if len(found) != 1:
                names = sorted(n for n, ts in by_name.items() if len(ts) == 1 and ts[0].requires_grad)
                why = "no tensor" if not found else f"{len(found)} tensors"
                raise KeyError(f"check_backprop: {why} of the loss's graph named {key!r}; the names "
                               f"there are {names}; pass the Tensor itself, or name it (z1.name = 'z1')")
            t, name = found[0], key
        elif isinstance(key, Tensor):
            t = key
            if t not in in_graph:
                raise ValueError(f"check_backprop: hand's key {_label(t)} is not in the graph of loss: pass "
                                 "the tensors the loss was computed from (the same objects, not a "
                                 "recomputed copy)")
            name = _label(t)
        else:
            raise TypeError(f"check_backprop: hand's keys must be Tensors of the graph or their names, "
                            f"got {type(key).__name__} {key!r:.40}")
        if not t.requires_grad:
            raise ValueError(f"check_backprop: {name!r} does not require grad, so the loss has no "
                             "gradient for it (an input such as X or y is not a link of the backward pass)")
        if t in seen:
            raise ValueError(f"check_backprop: {name!r} is given twice in hand")
        seen.add(t)
        links.append((name, t, gradient_array(value, f"check_backprop: hand[{name!r}]")))
    taken = Counter(name for name, _, _ in links)
    return [(f"{name}#{t._created}" if taken[name] > 1 else name, t, h) for name, t, h in links]


def _label(t):
    return t.name if t.name is not None else f"<{t.op_name or 'leaf'} {t.shape}>"


def _backward_position(nodes):
    """Sort key, largest first in backward order: an op result when the backward pass
    reaches it (its creation), a leaf when the first op that uses it is done."""
    first_use = {}
    for t in nodes:  # creation order: the first consumer met is the earliest
        if t._op is not None:
            for x in t._inputs:
                if isinstance(x, Tensor) and x not in first_use:
                    first_use[x] = t._created
    return lambda link: (link[1]._created, 1) if link[1]._op is not None else (first_use[link[1]], 0)


def _batch_size(nodes):
    counts = Counter(t.shape[0] for t in nodes if t._op is not None and t.ndim >= 2)
    return counts.most_common(1)[0][0] if counts else None


def _array(g, t):
    """A gradient from grad() as a float64 array; None (no dependence) is zeros."""
    return np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64)


# -- the mistakes with activations ------------------------------------------------------------------
def _explain(nodes, links, rows, first, atol, rtol):
    """The first wrong link's mistake, re-run: (diagnosis, gradients of all links under it), or None.

    Only for a link that is plainly wrong: a sign, factor or transpose says more."""
    if rows[first].codes != (WRONG,):
        return None
    h = links[first][2]
    for s in reversed(nodes):  # the activations nearest the loss first
        if s._op is None or s._op.name not in _ACTIVATIONS:
            continue
        derivative = _ACTIVATIONS[s._op.name][0]
        out = s.data
        wrong_forward = derivative(out)
        # (what the forward computed, the local derivative the backward used, which mistake)
        for value, local, kind in ((wrong_forward, derivative(out), 'forward'),
                                   (wrong_forward, derivative(wrong_forward), 'forward'),
                                   (out, np.ones_like(out), 'missing')):
            alt = _rerun(nodes, s, value, local, [t for _, t, _ in links])
            if alt is not None and _close(h, alt[first], atol, rtol):
                return _activation_text(kind, s, nodes, value), alt
    return None


def _rerun(nodes, s, value, local, tensors):
    """The gradients at ``tensors`` when activation ``s`` gives ``value`` in the forward pass
    and ``local`` as its derivative: s is replaced by ``z * local + const`` (that value, that
    derivative), the ops after it are run again on the replacement. None if that fails."""
    z = s._inputs[0]
    try:
        with enable_grad(), np.errstate(all='ignore'):
            new = {s: z * local + (value - z.data * local)}
            for t in nodes:  # creation order: each op's inputs are replaced before it runs
                if t._created > s._created and t._op is not None and any(
                        isinstance(x, Tensor) and x in new for x in t._inputs):
                    new[t] = t._op(*[new.get(x, x) if isinstance(x, Tensor) else x for x in t._inputs],
                                   **(t._static or {}))
            # nodes[-1] is the loss (walk's creation order ends with the root)
            found = grad(new[nodes[-1]], [new.get(t, t) for t in tensors], retain_graph=True, allow_unused=True)
    except (ArithmeticError, ValueError, TypeError, RuntimeError):
        return None
    return [_array(g, t) for g, t in zip(found, tensors)]


def _activation_text(kind, s, nodes, value):
    op = s._op.name
    _, values_range, formula = _ACTIVATIONS[op]
    z = s._inputs[0]
    zname = z.name or 'z'
    aname = s.name or f'{op}({zname})'
    call = f"{s.name} = {op}({zname})" if s.name else f"{op}({zname})"
    if kind == 'missing':
        return (f"this is the gradient at {aname}, not at {zname}: the factor {op}'({zname}) = "
                f"{formula.format(a=aname)} is missing (the gradient at {zname} is the gradient at "
                f"{aname} times {formula.format(a=aname)})")
    what = 'the prediction' if _is_output(s, nodes) else 'the activation'
    return (f"this is backprop of a forward pass that computed {call} as {op}'({zname}): {what} then "
            f"lies in {values_range} (here from {float(value.min()):.3g} to {float(value.max()):.3g}), the "
            f"range of {op}'s derivative, so the derivative was used where the {op} belongs. Compute "
            f"{aname} = {op}({zname}) in the forward pass; {formula.format(a=aname)} belongs only in the "
            "delta")


def _is_output(s, nodes):
    """True when no parameter enters the graph between s and the loss."""
    after = {s}
    for t in nodes:
        if t._created > s._created and t._op is not None and any(isinstance(x, Tensor) and x in after
                                                         for x in t._inputs):
            if any(isinstance(x, Tensor) and x._op is None and x.requires_grad for x in t._inputs):
                return False
            after.add(t)
    return True


# -- what the links after the first wrong one inherit ------------------------------------------------
def _inherited(links, truths, rows, first, mistake, atol, rtol):
    """(rows, names): the rows with the first wrong one's mistake named and each later row
    that its error explains exactly marked as inherited; names, those rows' names (None
    when that could not be checked: a leaf, or a shape that differs)."""
    rows = list(rows)
    name, t, h = links[first]
    if mistake is not None:
        text, expected = mistake
        rows[first] = dataclasses.replace(rows[first], diagnosis=text)
        why = f"follows from the same mistake as {name}"
    elif t._op is not None and h is not None and h.shape == truths[first].shape and first + 1 < len(links):
        # Backprop is linear in the gradient it passes on: what a later link gets from the hand
        # value at t is its true gradient plus the backprop of (hand - true) from t.
        later = [u for _, u, _ in links[first + 1:]]
        with enable_grad():
            passed = grad(t, later, grad_outputs=h - truths[first], retain_graph=True, allow_unused=True)
        expected = [None] * (first + 1) + [g + (0 if p is None else p.data)
                                           for g, p in zip(truths[first + 1:], passed)]
        why = f"inherits the error of {name}: it is what backprop gives from your {name}"
    else:
        return rows, None
    inherited = []
    for i in range(first + 1, len(rows)):
        if not rows[i].ok and links[i][2] is not None and _close(links[i][2], expected[i], atol, rtol):
            rows[i] = dataclasses.replace(rows[i], diagnosis=f"{why} ({_verdict_text(rows[i])})")
            inherited.append(rows[i].name)
    return rows, inherited


def _summary(links, rows, first, inherited):
    name, t, _ = links[first]
    later = [row.name for row in rows[first + 1:] if not row.ok]
    text = f"first wrong link: {name}"
    if t._op is None:
        return text + " (a leaf: its gradient is not passed on, so the links after it are checked on their own)"
    if not later:
        return text
    text += "; the links after it are computed from it and inherit its error"
    if inherited is None:
        text += f" ({', '.join(later)} wrong too)"
    else:
        own = [n for n in later if n not in inherited]
        if inherited:
            text += f" ({', '.join(inherited)} follow{'s' if len(inherited) == 1 else ''} from it exactly)"
        if own:
            text += f"; {', '.join(own)} {'is' if len(own) == 1 else 'are'} wrong beyond that"
    return text + f": fix {name} first"
