"""Neural-network building blocks: modules, layers, losses and initialisers.

>>> net = ag.nn.MLP([4, 8, 3], activation='sigmoid', seed=0)
>>> loss = ag.nn.functional.cross_entropy(net(X), y)     # X (N, 4), y (N,) integer labels
"""
from . import functional, init
from .module import Module, Parameter, StateDictError, LoadResult
from .layers import Linear, Sequential, MLP, Identity, Sigmoid, Tanh, ReLU, Softmax, LogSoftmax

__all__ = ['Module', 'Parameter', 'StateDictError', 'LoadResult', 'Linear', 'Sequential', 'MLP',
           'Identity', 'Sigmoid', 'Tanh', 'ReLU', 'Softmax', 'LogSoftmax', 'functional', 'init']
