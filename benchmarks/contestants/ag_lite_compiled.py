"""autograd_lite with ``ag.compile``: the same model, loss and optimizer as ``ag_lite``, the
step's forward and backward recorded once and then run as generated NumPy code."""
import autograd_lite as ag
from workloads import run_chain

from contestants import ag_lite

NAME = 'autograd_lite compiled'


def version():
    if not hasattr(ag, 'compile'):
        raise ImportError('this autograd_lite has no compile()')
    return ag.__version__


def mlp(w, X, Y, params):
    layers, tensors = ag_lite._layers(w, params)
    X = ag.Tensor(X)
    Y = Y if w.loss == 'cross_entropy' else ag.Tensor(Y)
    act = ag_lite._ACT[w.activation]
    last = len(layers) - 1
    opt = ag.optim.SGD(tensors, lr=ag_lite.LR)

    @ag.compile
    def loss(X, Y):
        h = X
        for k, layer in enumerate(layers):
            h = layer(h)
            if k < last:
                h = act(h)
        return ag_lite._loss(w, h, Y, None)

    def step():
        opt.zero_grad()
        loss(X, Y)
        opt.step()

    return step, lambda: [p.grad for p in tensors]


LONGEST_CHAIN = 10_000  # W5 is not run: generating and compiling code for 100,000 ops takes longer than running them (about 0.2 ms per op)


def chain(w, x0):
    if w.n_ops > LONGEST_CHAIN:
        raise NotImplementedError(f"{NAME}: not run on chains of more than {LONGEST_CHAIN} ops: generating and compiling code for 100,000 ops takes longer than running them (about 0.2 ms per op)")
    loss = ag.compile(lambda x: run_chain(x, w.n_ops, ag.tanh).sum())

    def run():
        x = ag.Tensor(x0, requires_grad=True)
        loss(x)
        return x.grad

    return run
