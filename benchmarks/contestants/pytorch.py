"""PyTorch on the CPU, one thread, float64: nn.Linear, torch.nn.functional losses,
torch.optim.SGD, the way its tutorials write a training step."""
import torch
from torch import nn
from torch.nn import functional as F

from workloads import LR, run_chain

NAME = 'PyTorch CPU'
torch.set_num_threads(1)

_ACT = {'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh, 'relu': nn.ReLU}


def version():
    return torch.__version__


def mlp(w, X, Y, params):
    step_p = 2 if w.bias else 1
    n_layers = len(w.sizes) - 1
    modules, linears = [], []
    for k in range(n_layers):
        linear = nn.Linear(w.sizes[k], w.sizes[k + 1], bias=w.bias, dtype=torch.float64)
        with torch.no_grad():  # torch keeps weights as (out, in)
            linear.weight.copy_(torch.from_numpy(params[step_p * k].T))
            if w.bias:
                linear.bias.copy_(torch.from_numpy(params[step_p * k + 1]))
        modules.append(linear)
        linears.append(linear)
        if k < n_layers - 1:
            modules.append(_ACT[w.activation]())
    model = nn.Sequential(*modules)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    X = torch.from_numpy(X)
    Y = torch.from_numpy(Y)

    def loss_of(out):
        if w.loss == 'cross_entropy':
            return F.cross_entropy(out, Y)
        if w.loss == 'half_mse':
            return 0.5 * F.mse_loss(torch.sigmoid(out), Y)
        return F.mse_loss(out, Y)

    def step():
        opt.zero_grad()
        loss_of(model(X)).backward()
        opt.step()

    def grads():
        out = []
        for linear in linears:
            out.append(linear.weight.grad.numpy().T)
            if w.bias:
                out.append(linear.bias.grad.numpy())
        return out

    return step, grads


def chain(w, x0):
    def run():
        x = torch.tensor(x0, requires_grad=True)
        run_chain(x, w.n_ops, torch.tanh).sum().backward()
        return x.grad.numpy()

    return run
