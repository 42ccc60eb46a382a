"""autograd_lite, through the path its users take: ``ag.nn`` layers and losses and
``ag.optim.SGD`` where they exist, plain Tensors and ``no_grad`` updates where not."""
import numpy as np

import autograd_lite as ag
from workloads import LR, run_chain

NAME = 'autograd_lite'

_nn = getattr(ag, 'nn', None)
_F = getattr(_nn, 'functional', None)
_optim = getattr(ag, 'optim', None)
_ACT = {'sigmoid': ag.sigmoid, 'tanh': ag.tanh, 'relu': ag.relu}


def version():
    return ag.__version__


def _layers(w, params):
    """One ``h -> h @ W + b`` callable per layer, and the parameter Tensors in params' order."""
    step = 2 if w.bias else 1
    n_layers = len(w.sizes) - 1
    if _nn is not None and hasattr(_nn, 'Linear'):
        layers = [_nn.Linear(w.sizes[k], w.sizes[k + 1], bias=w.bias) for k in range(n_layers)]
        tensors = []
        for k, layer in enumerate(layers):
            layer.weight.data[...] = params[step * k]
            tensors.append(layer.weight)
            if w.bias:
                layer.bias.data[...] = params[step * k + 1]
                tensors.append(layer.bias)
        return layers, tensors
    tensors = [ag.Tensor(p.copy(), requires_grad=True) for p in params]
    if w.bias:
        layers = [lambda h, W=tensors[2 * k], b=tensors[2 * k + 1]: h @ W + b for k in range(n_layers)]
    else:
        layers = [lambda h, W=tensors[k]: h @ W for k in range(n_layers)]
    return layers, tensors


def _loss(w, out, Y, Y_onehot):
    if w.loss == 'cross_entropy':
        if _F is not None and hasattr(_F, 'cross_entropy'):
            return _F.cross_entropy(out, Y)
        return -(ag.log_softmax(out, axis=1) * Y_onehot).sum() / out.shape[0]
    if w.loss == 'half_mse':
        out = ag.sigmoid(out)
    if _F is not None and hasattr(_F, 'mse_loss'):
        loss = _F.mse_loss(out, Y)
    else:
        diff = out - Y
        loss = (diff * diff).mean()
    return 0.5 * loss if w.loss == 'half_mse' else loss


def mlp(w, X, Y, params):
    layers, tensors = _layers(w, params)
    X = ag.Tensor(X)
    Y_onehot = np.eye(w.sizes[-1])[Y] if w.loss == 'cross_entropy' else None
    Y = Y if w.loss == 'cross_entropy' else ag.Tensor(Y)
    act = _ACT[w.activation]
    last = len(layers) - 1
    if _optim is not None:
        opt = _optim.SGD(tensors, lr=LR)
        zero_grad, update = opt.zero_grad, opt.step
    else:
        def zero_grad():
            for p in tensors:
                p.grad = None

        def update():
            for p in tensors:
                p.data -= LR * p.grad

    def step():
        zero_grad()
        h = X
        for k, layer in enumerate(layers):
            h = layer(h)
            if k < last:
                h = act(h)
        _loss(w, h, Y, Y_onehot).backward()
        update()

    return step, lambda: [p.grad for p in tensors]


def chain(w, x0):
    def run():
        x = ag.Tensor(x0, requires_grad=True)
        run_chain(x, w.n_ops, ag.tanh).sum().backward()
        return x.grad

    return run
