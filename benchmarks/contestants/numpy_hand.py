"""NumPy by hand: backpropagation written out, as a careful person writes it.

The floor every engine is measured against, and the reference for their gradients.
No engine can do less arithmetic than this; what an engine adds is its overhead.
"""
import numpy as np

from workloads import LR

NAME = 'NumPy by hand'


def version():
    return np.__version__


_ACT = {  # activation, and its derivative written in terms of the activation's output h
    'sigmoid': (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda h: h * (1.0 - h)),
    'tanh': (np.tanh, lambda h: 1.0 - h * h),
    'relu': (lambda z: np.maximum(z, 0.0), lambda h: h > 0),
}


def _forward(w, X, params):
    """The input of every layer, and last the final layer's scores (batch, n_out)."""
    act = _ACT[w.activation][0]
    n_layers = len(w.sizes) - 1
    step = 2 if w.bias else 1
    hs = [X]
    h = X
    for k in range(n_layers):
        z = h @ params[step * k]
        if w.bias:
            z = z + params[step * k + 1]
        h = act(z) if k < n_layers - 1 else z
        hs.append(h)
    return hs


def loss(w, X, Y, params):
    """The loss value (what the gradients are the gradients of)."""
    out = _forward(w, X, params)[-1]
    if w.loss == 'cross_entropy':
        shifted = out - out.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -logp[np.arange(X.shape[0]), Y].mean()
    if w.loss == 'half_mse':
        return 0.5 * np.mean((_ACT['sigmoid'][0](out) - Y) ** 2)
    return np.mean((out - Y) ** 2)


def _step(w, X, Y, params):
    """Forward (with the loss value, as a training loop reports it) and backward of one
    step: ``(loss, gradients laid out like params)``."""
    dact = _ACT[w.activation][1]
    n_layers = len(w.sizes) - 1
    step = 2 if w.bias else 1
    hs = _forward(w, X, params)
    out = hs[-1]  # the last layer's scores, before any output activation
    n = X.shape[0]
    if w.loss == 'cross_entropy':  # d mean(-log softmax(z)[y]) / dz = (softmax(z) - onehot) / n
        rows = np.arange(n)
        shifted = out - out.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        value = np.mean(np.log(total[:, 0]) - shifted[rows, Y])
        dz = e / total
        dz[rows, Y] -= 1.0
        dz /= n
    elif w.loss == 'half_mse':  # 0.5 * mean((sigmoid(z) - y)**2)
        y_hat = _ACT['sigmoid'][0](out)
        diff = y_hat - Y
        value = 0.5 * np.mean(diff * diff)
        dz = diff * (1.0 / Y.size) * y_hat * (1.0 - y_hat)
    else:  # mse: mean((z - y)**2)
        diff = out - Y
        value = np.mean(diff * diff)
        dz = diff * (2.0 / Y.size)
    grads = [None] * len(params)
    for k in range(n_layers - 1, -1, -1):
        W = params[step * k]
        grads[step * k] = hs[k].T @ dz  # (in, out)
        if w.bias:
            grads[step * k + 1] = dz.sum(axis=0)  # (out,)
        if k:
            dz = (dz @ W.T) * dact(hs[k])  # back through layer k's input activation
    return value, grads


def mlp(w, X, Y, params):
    params = [p.copy() for p in params]
    last = []

    def step():
        grads = _step(w, X, Y, params)[1]
        for p, g in zip(params, grads):
            p -= LR * g
        last[:] = grads

    return step, lambda: list(last)


def chain(w, x0):
    n_triples, rest = divmod(w.n_ops, 3)

    def run():
        x = x0
        outs = []  # tanh's outputs: its derivative is 1 - out**2
        for _ in range(n_triples):
            x = np.tanh(x * 1.0001 + 0.001)
            outs.append(x)
        if rest:  # the forward's tail, for the output's sake; its gradient is a factor
            x = x * 1.0001 + 0.001 if rest == 2 else x * 1.0001
        g = np.ones_like(x0)  # d sum / d output; the tail ops only scale it
        if rest:
            g = g * 1.0001
        for out in reversed(outs):
            g = g * (1.0 - out * out) * 1.0001
        return g

    return run
