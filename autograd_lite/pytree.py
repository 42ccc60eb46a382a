"""Pytrees: nested tuples, lists and dicts of leaves (arrays, numbers, Tensors), flattened and rebuilt.

The function transforms (:mod:`autograd_lite.func`) take and return such containers, a dict
of parameters being the usual one: they flatten the arguments into a list of leaves,
differentiate with respect to the leaves, and rebuild the gradients in the arguments'
structure. A structure is a ``treedef``: ``None`` for a leaf, else ``(type, keys, children)``
with the dict's keys (in insertion order, as PyTorch's pytrees keep them) or ``None``.

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
    if not isinstance(tree, _CONTAINERS):
        return [tree], None
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    # [speed] a container's leaves are appended without a call each (a dict of parameters
    # is flattened on every call of a transformed function)
    if isinstance(tree, dict):
        keys, children = tuple(tree), tree.values()
    else:
        keys, children = None, tree
    defs = []
    for child in children:
        if isinstance(child, _CONTAINERS):
            defs.append(_flatten(child, leaves))
        else:
            leaves.append(child)
            defs.append(None)
    return type(tree), keys, tuple(defs)


def tree_unflatten(treedef, leaves):
    """The tree of structure ``treedef`` with ``leaves`` (any iterable, in flattening order)."""
    leaves = iter(leaves)
    try:
        tree = _unflatten(treedef, leaves)
    except StopIteration:
        raise ValueError("tree_unflatten: fewer leaves than the structure holds") from None
    if next(leaves, _END) is not _END:
        raise ValueError("tree_unflatten: more leaves than the structure holds")
    return tree


_END = object()


def _unflatten(treedef, leaves):
    if treedef is None:
        return next(leaves)
    kind, keys, children = treedef
    values = [next(leaves) if child is None else _unflatten(child, leaves) for child in children]
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
    _, keys, children = treedef
    paths = []
    for i, child in enumerate(children):
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
