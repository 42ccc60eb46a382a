"""nn.Module, Parameter, Linear, Sequential, MLP and the activation modules."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import nn


def test_mlp_names_shapes_and_gradient_flow():
    net = nn.MLP([4, 8, 3], activation='sigmoid', seed=0)
    assert [n for n, _ in net.named_parameters()] == ['0.weight', '0.bias', '2.weight', '2.bias']
    assert [p.shape for p in net.parameters()] == [(4, 8), (8,), (8, 3), (3,)]
    x = ag.Tensor(np.random.default_rng(1).normal(size=(5, 4)))
    loss = nn.functional.cross_entropy(net(x), np.array([0, 1, 2, 1, 0]))
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
