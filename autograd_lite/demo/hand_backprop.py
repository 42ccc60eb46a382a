"""An MLP classifier's gradients four ways: derived by hand (NumPy only), by the engine,
by central finite differences, and by the NumPy code the engine writes for the loss
(:func:`code_gradients`); :func:`check_gradients` compares the first three.

The gradients are named as the model names its parameters (``named_parameters()``), so the
table reads as the graph, the listing and the saved weights do: the command's
:class:`~autograd_lite.demo.training.Classifier` says ``layer1.weight, layer1.bias`` for the
first :class:`~autograd_lite.nn.Linear` layer (``W1, b1`` of a hand derivation),
``layer2.weight, layer2.bias`` for the second, and so on. The loss is
:func:`autograd_lite.demo.training.loss_fn`: mean softmax cross-entropy, or mean binary
cross-entropy per class for a sigmoid output.
"""
import numpy as np

from ..check import numerical_grad
from ..compare import compare_gradients
from ..engine import no_grad
from ..tensor import Tensor
from .training import loss_fn

# Each hidden activation and its derivative written through its output a = f(z),
# which is what the forward pass keeps.
_ACTIVATIONS = {
    'sigmoid': (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    'tanh': (np.tanh, lambda a: 1 - a ** 2),
    'relu': (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
}


def layer_parameters(model):
    """[(name, weight), (name, bias), ...] for ``model.linears``, first layer first (biases
    if present), each under its name in ``model.named_parameters()``: ``layer1.weight``
    for a Classifier, ``0.weight`` for an nn.MLP."""
    names = {id(p): name for name, p in model.named_parameters()}
    return [(names[id(p)], p) for layer in model.linears for p in (layer.weight, layer.bias) if p is not None]


def hand_gradients(model, X, labels, output='softmax'):
    """(loss, {'layer1.weight': (D, H1), 'layer1.bias': (H1,), ...}): vectorised backprop
    written out in NumPy, with the parameters' names as in :func:`layer_parameters`.

    ``model`` is a :class:`~autograd_lite.demo.training.Classifier` or an
    :class:`~autograd_lite.nn.MLP` ending in raw scores (output=None);
    ``X`` is (N, D), ``labels`` (N,) integers; ``output`` 'softmax' or 'sigmoid' names
    the loss as in :func:`~autograd_lite.demo.training.loss_fn`."""
    f, f_prime = _ACTIVATIONS[model.activation]
    layers = model.linears
    N = X.shape[0]
    # Forward, keeping every layer's output: a[0] = X (N, D), a[k] (N, H_k).
    a = [X]
    for layer in layers[:-1]:
        a.append(f(_affine(a[-1], layer)))                     # (N, H_k)
    scores = _affine(a[-1], layers[-1])                       # (N, C)
    C = scores.shape[1]
    Y = np.eye(C)[labels]                                     # (N, C) one-hot
    if output == 'softmax':
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -np.sum(Y * log_p) / N
        delta = (np.exp(log_p) - Y) / N                       # (N, C) dL/dscores: (softmax - Y) / N
    elif output == 'sigmoid':
        loss = np.mean(np.maximum(scores, 0) - scores * Y + np.log1p(np.exp(-np.abs(scores))))
        delta = (1 / (1 + np.exp(-scores)) - Y) / (N * C)    # (N, C): (sigmoid - Y), mean over N*C
    else:
        raise ValueError(f"hand_gradients: output must be 'softmax' or 'sigmoid', got {output!r}")
    grads = {}  # id(parameter) -> its gradient
    for k in range(len(layers), 0, -1):                       # last layer first
        layer = layers[k - 1]
        grads[id(layer.weight)] = a[k - 1].T @ delta          # W_k: (H_{k-1}, N) @ (N, H_k), W's shape
        if layer.bias is not None:
            grads[id(layer.bias)] = delta.sum(axis=0)         # b_k: (H_k,), summed over the batch
        if k > 1:
            delta = (delta @ layer.weight.data.T) * f_prime(a[k - 1])   # (N, H_{k-1})
    return loss, {name: grads[id(p)] for name, p in layer_parameters(model)}


def _affine(x, layer):
    out = x @ layer.weight.data
    return out if layer.bias is None else out + layer.bias.data


def engine_gradients(model, X, labels, output='softmax'):
    """(loss, {'layer1.weight': ..., ...}) from loss.backward(); the model's ``.grad`` are left cleared."""
    named = layer_parameters(model)
    model.zero_grad()
    loss = loss_fn(model(Tensor(X)), labels, output)
    loss.backward()
    grads = {name: p.grad for name, p in named}
    model.zero_grad()
    return loss.item(), grads


def code_gradients(model, X, labels, output='softmax'):
    """(loss, {'W1': ..., ...}, code): the gradients computed by the NumPy code that
    :func:`autograd_lite.backward_code` writes for this loss, with the parameters named
    W1, b1, ...; ``code`` is that source (a :class:`~autograd_lite.codegen.GeneratedCode`)."""
    from ..codegen import backward_code
    named = layer_parameters(model)
    loss = loss_fn(model(Tensor(X, name='X')), labels, output)
    code = backward_code(loss, names={p: name for name, p in named})
    value, grads = code.run()
    in_code = {id(t): name for name, t in code.grad_names.items()}  # the names as identifiers
    return float(value), {name: grads[in_code[id(p)]] for name, p in named}, code


def numerical_gradients(model, X, labels, output='softmax', eps=1e-6, max_entries=None, seed=0):
    """Central differences (:func:`autograd_lite.numerical_grad`) of the model's own loss.

    Returns {'layer1.weight': (index, values), ...}: ``index`` None and ``values`` of the parameter's
    shape when every entry was measured; for a parameter with more than ``max_entries``
    entries, a random sample of that many (``np.random.default_rng(seed)``): ``index`` its
    flat indices (k,), ``values`` (k,). Each measured entry costs two forward passes."""
    named = layer_parameters(model)
    rng = np.random.default_rng(seed)
    picks = [np.arange(p.data.size) if max_entries is None or p.data.size <= max_entries
             else np.sort(rng.choice(p.data.size, max_entries, replace=False)) for _, p in named]
    saved = [p.data for _, p in named]
    work = [np.array(data, dtype=np.float64) for data in saved]  # what the model runs on meanwhile
    x = Tensor(X)

    def loss_at(*values):
        # numerical_grad perturbs copies of the measured entries; put them into the weights.
        for w, index, v in zip(work, picks, values):
            w.reshape(-1)[index] = v
        with no_grad():
            return loss_fn(model(x), labels, output)

    try:
        for (_, p), w in zip(named, work):
            p.data = w
        grads = numerical_grad(loss_at, [data.reshape(-1)[index] for data, index in zip(saved, picks)], eps=eps)
    finally:
        for (_, p), data in zip(named, saved):
            p.data = data
    return {name: (None, g.reshape(p.shape)) if index.size == p.data.size else (index, g)
            for (name, p), index, g in zip(named, picks, grads)}


def check_gradients(model, X, labels, output='softmax', atol=1e-8, rtol=1e-5, max_entries=64):
    """Compare the hand-derived and the finite-difference gradients with the engine's.

    Finite differences measure at most ``max_entries`` random entries per parameter (the
    rows of the report say so: ``layer1.weight[64 of 8192]``). Returns ``(hand_vs_engine,
    numeric_vs_engine, losses)``: two :class:`~autograd_lite.compare.GradientReport` and
    {'hand': loss, 'autograd': loss}."""
    hand_loss, hand = hand_gradients(model, X, labels, output)
    auto_loss, auto = engine_gradients(model, X, labels, output)
    numeric, reference = {}, {}
    for name, (index, values) in numerical_gradients(model, X, labels, output, max_entries=max_entries).items():
        label = name if index is None else f'{name}[{index.size} of {auto[name].size}]'
        numeric[label] = values
        reference[label] = auto[name] if index is None else auto[name].reshape(-1)[index]
    n = len(X)
    return (compare_gradients(hand, auto, atol=atol, rtol=rtol, labels=('hand', 'autograd'), batch_size=n),
            compare_gradients(numeric, reference, atol=atol, rtol=rtol, labels=('numeric', 'autograd'),
                              batch_size=n),
            {'hand': float(hand_loss), 'autograd': auto_loss})
