"""Pytrees: nested tuples, lists and dicts of leaves (arrays, numbers, Tensors), flattened and rebuilt.

The function transforms (:mod:`autograd_lite.func`) take and return such containers, a dict
of parameters being the usual one: they flatten the arguments into a list of leaves,
differentiate with respect to the leaves, and rebuild the gradients in the arguments'
structure. A structure is a ``treedef``: ``None`` for a leaf, else ``(type, keys, children, size)``
with the dict's keys (in insertion order, as PyTorch's pytrees keep them) or ``None``, the
children's treedefs (``None`` when all are leaves) and the number of leaves.

>>> leaves, treedef = tree_flatten({'W': 1.0, 'b': (2.0, [3.0])})
>>> leaves
[1.0, 2.0, 3.0]
>>> tree_unflatten(treedef, [x * 10 for x in leaves])
{'W': 10.0, 'b': (20.0, [30.0])}

These walk user containers, a few levels deep, never a graph: they recurse.
"""


_CONTAINERS = (tuple, list, dict)


def _children(tree):
    """``(keys, children)`` of a container, or None for a leaf."""
    if isinstance(tree, dict):
        return tuple(tree), tuple(tree.values())
    if isinstance(tree, (tuple, list)):  # namedtuples too: rebuilt with their own class
        return None, tuple(tree)
    return None


def tree_flatten(tree):
    """``(leaves, treedef)``: the leaves in order (dicts in key order) and the structure."""
    if tree.__class__ is dict:  # [speed] a dict of parameters, flattened on every call of a transform
        leaves = list(tree.values())
        for leaf in leaves:
            if isinstance(leaf, _CONTAINERS):
                break
        else:
            return leaves, (dict, tuple(tree), None, len(leaves))
    elif not isinstance(tree, _CONTAINERS):
        return [tree], None
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    """The treedef of a container, ``(type, keys, children, size)``: ``size`` leaves in all;
    ``children`` is None when every child is a leaf ([speed]: a dict of parameters, flattened
    and rebuilt on every call of a transformed function, then costs one extend and one slice)."""
    keys, children = (tuple(tree), tuple(tree.values())) if isinstance(tree, dict) else (None, tree)
    start = len(leaves)
    for child in children:
        if isinstance(child, _CONTAINERS):
            break
    else:
        leaves.extend(children)
        return type(tree), keys, None, len(children)
    defs = []
    for child in children:
        if isinstance(child, _CONTAINERS):
            defs.append(_flatten(child, leaves))
        else:
            leaves.append(child)
            defs.append(None)
    return type(tree), keys, tuple(defs), len(leaves) - start


def tree_unflatten(treedef, leaves):
    """The tree of structure ``treedef`` with ``leaves`` (any iterable, in flattening order)."""
    if not isinstance(leaves, list):
        leaves = list(leaves)
    size = 1 if treedef is None else treedef[3]
    if len(leaves) != size:
        raise ValueError(f"tree_unflatten: {len(leaves)} leaves for a structure of {size}: "
                         f"{'fewer' if len(leaves) < size else 'more'} leaves than the structure holds")
    return rebuild(treedef, leaves)


def rebuild(treedef, leaves):
    """:func:`tree_unflatten` without its checks, for a list of leaves known to fit ``treedef``:
    the package's own calls, on every call of a transformed function."""
    if treedef is None:
        return leaves[0]
    if treedef[0] is dict and treedef[2] is None:  # [speed] a dict of leaves: parameters, gradients
        return dict(zip(treedef[1], leaves))
    return _unflatten(treedef, leaves, 0)


def _unflatten(treedef, leaves, start):
    kind, keys, children, size = treedef
    if children is None:
        values = leaves[start:start + size]
    else:
        values, i = [], start
        for child in children:
            if child is None:
                values.append(leaves[i])
                i += 1
            else:
                values.append(_unflatten(child, leaves, i))
                i += child[3]
    if keys is not None:
        return kind(zip(keys, values))
    if kind is tuple or kind is list:
        return kind(values)
    if hasattr(kind, '_fields'):  # a namedtuple takes its fields by position
        return kind(*values)
    return kind(values)


def tree_map(fn, tree):
    """``tree`` with each leaf replaced by ``fn(leaf)``."""
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [fn(leaf) for leaf in leaves])


def leaf_paths(treedef, prefix=''):
    """Where each leaf sits, as Python would index it: ``["['W']", "['b'][0]"]``."""
    if treedef is None:
        return [prefix]
    _, keys, children, size = treedef
    paths = []
    for i, child in enumerate(children if children is not None else (None,) * size):
        paths.extend(leaf_paths(child, f"{prefix}[{keys[i]!r}]" if keys is not None else f"{prefix}[{i}]"))
    return paths


def describe(tree):
    """The structure of ``tree`` with each leaf shown by its shape (or type), for messages:
    ``{'W': (2, 3), 'b': [(3,), float]}``."""
    found = _children(tree)
    if found is None:
        shape = getattr(tree, 'shape', None)
        return str(tuple(shape)) if shape is not None else type(tree).__name__
    keys, children = found
    inner = [describe(child) for child in children]
    if keys is not None:
        return '{' + ', '.join(f"{k!r}: {v}" for k, v in zip(keys, inner)) + '}'
    if isinstance(tree, list):
        return '[' + ', '.join(inner) + ']'
    return '(' + ', '.join(inner) + (',)' if len(inner) == 1 else ')')
