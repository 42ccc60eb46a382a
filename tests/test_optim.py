"""optim.SGD and optim.Adam: the update formulas, against torch.optim step by step,
in-place updates, skipped (unused or frozen) parameters, and the hyper-parameter checks."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import nn, optim


def _params(seed=0, shapes=((3, 2), (2,), (4,))):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.normal(size=s)) for s in shapes]


def _gradient_sequence(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=p.shape) for p in params] for _ in range(steps)]


SGD_CASES = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.8, nesterov=True),
             dict(lr=0.1, weight_decay=0.01), dict(lr=0.02, momentum=0.5, weight_decay=0.1, nesterov=True)]
ADAM_CASES = [dict(), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.003, weight_decay=0.05),
              dict(lr=0.1, betas=(0.0, 0.5))]


def _against_torch(ours_cls, theirs_cls, kwargs, steps=6):
    torch = pytest.importorskip('torch')
    params = _params()
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt, topt = ours_cls(params, **kwargs), theirs_cls(tparams, **kwargs)
    for k, grads in enumerate(_gradient_sequence(params, steps)):
        for i, (p, tp, g) in enumerate(zip(params, tparams, grads)):
            if k == 2 and i == 1:  # a parameter unused in one step: both skip it
                p.grad = tp.grad = None
            else:
                p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize('kwargs', SGD_CASES)
def test_sgd_matches_torch(kwargs):
    torch = pytest.importorskip('torch')
    _against_torch(optim.SGD, torch.optim.SGD, kwargs)


@pytest.mark.parametrize('kwargs', ADAM_CASES)
def test_adam_matches_torch(kwargs):
    torch = pytest.importorskip('torch')
    _against_torch(optim.Adam, torch.optim.Adam, kwargs)


def test_sgd_formulas():
    p = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    p.grad = np.array([1.0, 1.0])
    opt.step()  # buf = g
    np.testing.assert_allclose(p.data, [0.9, -2.1])
    p.grad = np.array([2.0, 0.0])
    opt.step()  # buf = 0.5 * [1, 1] + [2, 0] = [2.5, 0.5]
    np.testing.assert_allclose(p.data, [0.9 - 0.25, -2.1 - 0.05])
    np.testing.assert_array_equal(p.grad, [2.0, 0.0])  # the gradient is not touched


def test_adam_first_step_moves_each_weight_by_lr():
    p = nn.Parameter(np.array([1.0, 1.0, 1.0]))
    opt = optim.Adam([p], lr=0.01, eps=0.0)
    p.grad = np.array([3.0, -0.001, 50.0])
    opt.step()  # m_hat = g, v_hat = g^2: the step is lr * sign(g)
    np.testing.assert_allclose(p.data, [0.99, 1.01, 0.99], rtol=1e-14)
    assert opt.steps == [1]


def test_step_is_in_place_outside_the_graph_and_skips_missing_grads():
    net = nn.MLP([3, 4, 2], seed=0)
    arrays = [p.data for p in net.parameters()]
    for opt in (optim.SGD(net.parameters(), lr=0.1, momentum=0.9), optim.Adam(net.parameters())):
        before = [a.copy() for a in arrays]
        F = nn.functional
        loss = F.cross_entropy(net(ag.Tensor(np.ones((2, 3)))), np.array([0, 1]))
        loss.backward()
        net[2].bias.grad = None  # as if unused
        opt.step()
        assert [p.data for p in net.parameters()] == arrays  # the same arrays, updated in place
        assert all(p.is_leaf for p in net.parameters())
        changed = [not np.array_equal(a, b) for a, b in zip(arrays, before)]
        assert changed == [True, True, True, False]
        opt.zero_grad()
        assert all(p.grad is None for p in net.parameters())


def test_lr_can_be_changed_between_steps():
    p = nn.Parameter(np.array([0.0]))
    opt = optim.SGD([p], lr=1.0)
    p.grad = np.array([1.0])
    opt.step()
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [-1.5])


def test_float32_parameters_stay_float32():
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.Adam([p], weight_decay=0.1)):
        p.grad = np.ones(3, dtype=np.float32)
        opt.step()
        assert p.dtype == np.float32


@pytest.mark.parametrize('make,message', [
    (lambda p: optim.SGD(p, lr=0), r"SGD: lr must be a number in \(0, inf\], got 0"),
    (lambda p: optim.SGD(p, lr=-0.1), r"SGD: lr must be a number in \(0, inf\], got -0.1"),
    (lambda p: optim.SGD(p, lr=float('nan')), r"SGD: lr must be .* got nan"),
    (lambda p: optim.SGD(p, lr='0.1'), r"SGD: lr must be .* got '0.1'"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), r"SGD: momentum must be a number in \[0, inf\], got -0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), r"SGD: weight_decay must be .* got -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), r"SGD: nesterov=True needs a momentum > 0"),
    (lambda p: optim.Adam(p, lr=0), r"Adam: lr must be a number in \(0, inf\], got 0"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be a number in \[0, 1\), got 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"Adam: betas\[1\] must be a number in \[0, 1\), got -0.1"),
    (lambda p: optim.Adam(p, betas=0.9), r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    (lambda p: optim.Adam(p, eps=-1e-8), r"Adam: eps must be a number in \[0, inf\], got -1e-08"),
    (lambda p: optim.Adam(p, weight_decay=-0.1), r"Adam: weight_decay must be .* got -0.1"),
])
def test_invalid_hyper_parameters_name_the_parameter(make, message):
    with pytest.raises(ValueError, match=message):
        make(_params())


def test_invalid_params():
    p = nn.Parameter(np.ones(2))
    cases = [
        ([], r"SGD: params is empty.*plain Tensor instead of an nn.Parameter"),
        ([p, np.ones(2)], r"SGD: params\[1\] is a ndarray, not a Tensor"),
        ([p * 2], r"SGD: params\[0\] \(name None, shape \(2,\)\) is not a leaf \(it was computed by an op\); "
                  r"an optimiser updates leaf tensors such as model.parameters\(\)"),
        ([p, p], r"SGD: params\[1\] is params\[0\] again"),
        (nn.Linear(2, 2), r"pass model.parameters\(\), not the Linear itself"),
        (p, r"got a single Tensor; wrap it in a list"),
    ]
    for params, message in cases:
        with pytest.raises(ValueError, match=message):
            optim.SGD(params, lr=0.1)


def test_accepts_a_generator_of_parameters():
    net = nn.Linear(2, 2)
    assert optim.Adam(net.parameters()).params == [net.weight, net.bias]


# -- frozen parameters (requires_grad=False): accepted and skipped, as torch.optim does ---------------------
FROZEN_CASES = [('SGD', dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
                ('SGD', dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True)),
                ('Adam', dict(lr=0.01, weight_decay=0.01)), ('Adam', dict(lr=0.02, betas=(0.8, 0.9)))]


@pytest.mark.parametrize('opt_name,kwargs', FROZEN_CASES)
def test_frozen_layer_training_matches_torch(opt_name, kwargs):
    """Fine-tuning: layer 0 frozen from the start, layer 2 frozen after two steps; the
    optimiser gets every parameter, as ``opt(model.parameters())`` does in PyTorch."""
    torch = pytest.importorskip('torch')
    F = nn.functional
    net = nn.MLP([4, 6, 5, 3], activation='tanh', seed=0)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in net.parameters()]
    params = list(net.parameters())
    start = [p.data.copy() for p in params]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)
    tX, ty = torch.tensor(X), torch.tensor(y)

    def freeze(i):
        params[i].requires_grad_(False)
        tparams[i].requires_grad_(False)

    for i in (0, 1):  # 0.weight, 0.bias
        freeze(i)
    opt, topt = getattr(optim, opt_name)(params, **kwargs), getattr(torch.optim, opt_name)(tparams, **kwargs)
    for step in range(5):
        if step == 2:
            for i in (2, 3):  # 2.weight, 2.bias: frozen after the optimiser was made
                freeze(i)
        opt.zero_grad()
        topt.zero_grad()
        F.cross_entropy(net(ag.Tensor(X)), y).backward()
        h = tX
        for k in range(0, 6, 2):
            h = h @ tparams[k] + tparams[k + 1]
            h = torch.tanh(h) if k < 4 else h
        torch.nn.functional.cross_entropy(h, ty).backward()
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    moved = [not np.array_equal(p.data, s) for p, s in zip(params, start)]
    assert moved == [False, False, True, True, True, True]  # layer 2 moved in its two steps before freezing
    if opt_name == 'Adam':
        assert opt.steps == [0, 0, 2, 2, 5, 5]


@pytest.mark.parametrize('make', [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: optim.Adam(ps, weight_decay=0.1)], ids=['SGD', 'Adam'])
def test_a_parameter_frozen_after_construction_is_skipped_even_with_a_gradient_left(make):
    frozen, free = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    plain = ag.Tensor(np.ones(2))  # requires_grad=False from the start, as in a frozen copy
    opt = make([frozen, free, plain])
    frozen.grad, free.grad, plain.grad = np.ones(3), np.ones(2), np.ones(2)
    frozen.requires_grad = False  # after the optimiser was made, with its .grad still set
    opt.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    np.testing.assert_array_equal(plain.data, np.ones(2))
    assert not np.array_equal(free.data, np.ones(2))
    frozen.requires_grad = True  # unfrozen: it is updated again
    opt.step()
    assert not np.array_equal(frozen.data, np.ones(3))
