"""nn.Module, Parameter, Linear, Sequential, MLP, the activation modules and nn.init."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import engine, nn
from autograd_lite.nn import functional as F
from autograd_lite.nn import init


def _numeric_param_grads(model, loss_fn):
    """Central differences of ``loss_fn()`` with respect to each of model's parameters."""
    params = list(model.parameters())
    originals = [p.data for p in params]

    def fn(*arrays):
        for p, a in zip(params, arrays):
            p.data = a
        with ag.no_grad():
            return loss_fn()
    try:
        return ag.numerical_grad(fn, originals)
    finally:
        for p, a in zip(params, originals):
            p.data = a


class Block(nn.Module):
    """A hand-written module: a Parameter, a sub-module, a list and a dict of them."""

    def __init__(self):
        self.scale = nn.Parameter(np.array([2.0]))
        self.fc = nn.Linear(3, 2, seed=1)
        self.extra = [nn.Linear(2, 2, seed=2), (nn.Parameter(np.ones(2)),)]
        self.heads = {'a': nn.Linear(2, 1, seed=3)}

    def forward(self, x):
        h = self.fc(x) * self.scale
        h = self.extra[0](h) + self.extra[1][0]
        return self.heads['a'](h)


# -- Parameter -------------------------------------------------------------------------------------
def test_parameter_is_a_trainable_tensor_sharing_its_data():
    arr = np.zeros((2, 3))
    p = nn.Parameter(arr)
    assert isinstance(p, ag.Tensor) and p.requires_grad and p.is_leaf and p.data is arr
    assert repr(p).startswith('Parameter containing:\nTensor(')
    assert not nn.Parameter(arr, requires_grad=False).requires_grad
    assert nn.Parameter([1, 2]).dtype == np.float64  # lists become float64, as in Tensor()
    with pytest.raises(TypeError, match=r"Parameter: needs floating-point data, got dtype int64"):
        nn.Parameter(np.arange(3))


def test_parameter_takes_the_attribute_name_unless_named():
    m = nn.Module()
    m.W1 = nn.Parameter(np.ones(2))
    m.given = nn.Parameter(np.ones(2), name='mine')
    m.group = [nn.Parameter(np.ones(1))]
    assert (m.W1.name, m.given.name, m.group[0].name) == ('W1', 'mine', 'group.0')


def test_plain_tensor_requiring_grad_as_attribute_warns():
    m = nn.Module()
    with pytest.warns(UserWarning, match=r"Module.W is a Tensor that requires grad but not a Parameter"):
        m.W = ag.Tensor(np.ones(2), requires_grad=True)
    assert list(m.parameters()) == []
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        m.const = ag.Tensor(np.ones(2))  # constants are fine


# -- discovery ---------------------------------------------------------------------------------------
def test_named_parameters_and_modules_follow_attributes_and_containers():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == [
        'scale', 'fc.weight', 'fc.bias', 'extra.0.weight', 'extra.0.bias', 'extra.1.0',
        'heads.a.weight', 'heads.a.bias']  # declaration order
    assert [(n, type(m).__name__) for n, m in b.named_modules()] == [
        ('', 'Block'), ('fc', 'Linear'), ('extra.0', 'Linear'), ('heads.a', 'Linear')]
    assert [n for n, _ in b.named_children()] == ['fc', 'extra.0', 'heads.a']
    assert list(b.children()) == [b.fc, b.extra[0], b.heads['a']]
    assert list(b.parameters()) == [p for _, p in b.named_parameters()]
    assert [n for n, _ in b.named_parameters(prefix='net')][:2] == ['net.scale', 'net.fc.weight']
    assert [n for n, _ in b.named_modules(prefix='net')][:2] == ['net', 'net.fc']


def test_shared_parameters_and_modules_are_listed_once_and_cycles_end():
    m = nn.Module()
    shared = nn.Linear(2, 2)
    m.a, m.b = shared, shared
    m.tied = shared.weight
    m.me = m  # a reference back to itself must not loop
    assert [n for n, _ in m.named_parameters()] == ['a.weight', 'a.bias']
    assert [n for n, _ in m.named_modules()] == ['', 'a']


def test_name_parameters_gives_full_dotted_names():
    net = nn.MLP([2, 3, 1], seed=0)
    assert net[0].weight.name == 'weight'
    assert net.name_parameters() is net
    assert [p.name for p in net.parameters()] == ['0.weight', '0.bias', '2.weight', '2.bias']


def test_zero_grad_train_eval_apply():
    b = Block()
    b(ag.Tensor(np.ones((4, 3)))).sum().backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())
    assert b.eval() is b and not any(m.training for m in b.modules())
    assert all(m.training for m in b.train().modules())
    seen = []
    b.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ['Block', 'Linear', 'Linear', 'Linear']


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        nn.Module()(1)


# -- scope recording ------------------------------------------------------------------------------------
def test_call_records_the_running_modules_on_each_op():
    b = Block()
    out = b(ag.Tensor(np.ones((4, 3))))
    assert engine._mode.scope is None  # restored after the call
    assert out._scope == (b, b.heads['a'])  # the last op is the head's linear
    op_of_fc = out
    while op_of_fc._scope != (b, b.fc):
        op_of_fc = next(x for x in op_of_fc._inputs if isinstance(x, ag.Tensor) and x._op is not None)
    assert op_of_fc.op_name == 'linear'
    alone = b.extra[0](ag.Tensor(np.ones((1, 2))))  # a module called on its own is the outermost
    assert alone._scope == (b.extra[0],) and alone._inputs[0]._scope is None


def test_scope_is_restored_when_forward_raises():
    layer = nn.Linear(4, 2)
    with pytest.raises(ag.ShapeError, match=r"linear: input of shape \(3, 5\) does not fit weight of shape \(4, 2\)"):
        layer(ag.Tensor(np.ones((3, 5))))
    assert engine._mode.scope is None


# -- state_dict ---------------------------------------------------------------------------------------
def test_state_dict_is_a_copy_and_round_trips():
    a, b = nn.MLP([4, 5, 3], seed=0), nn.MLP([4, 5, 3], seed=1)
    state = a.state_dict()
    assert list(state) == ['0.weight', '0.bias', '2.weight', '2.bias']
    state['0.weight'][...] = 7.0
    assert not np.any(a[0].weight.data == 7.0)
    weight_array = b[0].weight.data
    assert b.load_state_dict(a.state_dict()) == nn.LoadResult([], [])
    assert b[0].weight.data is weight_array  # loaded in place: optimisers keep working
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    b.load_state_dict({k: ag.Tensor(v) for k, v in nn.MLP([4, 5, 3], seed=2).state_dict().items()})
    np.testing.assert_array_equal(b[2].weight.data, nn.MLP([4, 5, 3], seed=2)[2].weight.data)


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = nn.MLP([4, 5, 3], seed=0)
    before = net.state_dict()
    bad = nn.MLP([4, 6, 3], seed=1).state_dict()   # every shape but the last bias differs
    del bad['2.bias']
    bad['extra'] = np.zeros(1)
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(bad)
    err = info.value
    assert isinstance(err, ValueError)
    message = str(err)
    assert "load_state_dict into MLP: missing keys ['2.bias']; unexpected keys ['extra']" in message
    assert "'0.weight' (expected (4, 5) float64, got (4, 6) float64)" in message
    assert "'0.bias' (expected (5,) float64, got (6,) float64)" in message
    assert "'2.weight' (expected (5, 3) float64, got (6, 3) float64)" in message
    assert message.endswith("nothing was loaded")
    assert err.missing == ['2.bias'] and err.unexpected == ['extra']
    assert [m[0] for m in err.mismatched] == ['0.weight', '0.bias', '2.weight']
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_rejects_non_numeric_values_atomically():
    net = nn.Linear(2, 1, seed=0)
    before = net.state_dict()
    good = nn.Linear(2, 1, seed=5).state_dict()
    with pytest.raises(ValueError, match=r"'bias' \(expected \(1,\) float64, got \(1,\) <U1\)"):
        net.load_state_dict({'weight': good['weight'], 'bias': np.array(['x'])})
    np.testing.assert_array_equal(net.weight.data, before['weight'])


def test_load_state_dict_non_strict_reports_what_it_left_out():
    net = nn.MLP([2, 3, 1], seed=0)
    source = nn.MLP([2, 3, 1], seed=4).state_dict()
    result = net.load_state_dict({'0.weight': source['0.weight'], 'other': np.ones(1)}, strict=False)
    assert result.missing_keys == ['0.bias', '2.weight', '2.bias'] and result.unexpected_keys == ['other']
    np.testing.assert_array_equal(net[0].weight.data, source['0.weight'])
    with pytest.raises(ValueError, match="wrong shape"):  # shapes are checked even when not strict
        net.load_state_dict({'0.weight': np.ones((3, 2))}, strict=False)


# -- printing ------------------------------------------------------------------------------------------
def test_repr_is_a_nested_listing():
    class Outer(nn.Module):
        def __init__(self):
            self.body = nn.MLP([4, 8, 3], activation='relu', output='softmax')
            self.head = nn.Linear(3, 1, bias=False)

    assert repr(Outer()) == '\n'.join([
        'Outer(',
        '  (body): MLP(',
        '    (0): Linear(in_features=4, out_features=8, bias=True)',
        '    (1): ReLU()',
        '    (2): Linear(in_features=8, out_features=3, bias=True)',
        '    (3): Softmax(axis=-1)',
        '  )',
        '  (head): Linear(in_features=3, out_features=1, bias=False)',
        ')'])
    assert repr(nn.Tanh()) == 'Tanh()'


# -- Linear --------------------------------------------------------------------------------------------
def test_linear_computes_x_at_w_plus_b():
    layer = nn.Linear(4, 3, seed=0)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    np.testing.assert_array_equal(layer.bias.data, 0.0)
    layer.bias.data[...] = [1.0, 2.0, 3.0]
    x = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_allclose(layer(ag.Tensor(x)).data, x @ layer.weight.data + [1.0, 2.0, 3.0])
    assert layer(ag.Tensor(x[0])).shape == (3,)
    no_bias = nn.Linear(4, 3, bias=False, seed=0)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ['weight']
    np.testing.assert_array_equal(no_bias.weight.data, layer.weight.data)
    assert nn.Linear(4, 3, dtype=np.float32).weight.dtype == np.float32


def test_linear_argument_errors():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive integer, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="out_features must be a positive integer, got 2.5"):
        nn.Linear(2, 2.5)
    with pytest.raises(ValueError, match="unknown activation 'gelu' for initialisation; choose one of None, "):
        nn.Linear(2, 2, nonlinearity='gelu')


def test_linear_and_mlp_gradients_against_finite_differences():
    rng = np.random.default_rng(0)
    x, y = ag.Tensor(rng.normal(size=(6, 4))), rng.integers(0, 3, size=6)
    for net in (nn.MLP([4, 5, 3], activation='tanh', seed=0),
                nn.MLP([4, 5, 5, 3], activation='relu', seed=1),
                nn.MLP([4, 3], bias=False, seed=2)):
        loss_fn = lambda: F.cross_entropy(net(x), y)  # noqa: E731
        net.zero_grad()
        loss_fn().backward()
        for (name, p), numeric in zip(net.named_parameters(), _numeric_param_grads(net, loss_fn)):
            np.testing.assert_allclose(p.grad, numeric, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize('activation,output', [('sigmoid', None), ('tanh', 'sigmoid'), ('relu', 'softmax')])
def test_mlp_matches_pytorch(activation, output):
    torch = pytest.importorskip('torch')
    net = nn.MLP([4, 6, 5, 3], activation=activation, output=output, seed=3)
    acts = {'sigmoid': torch.nn.Sigmoid, 'tanh': torch.nn.Tanh, 'relu': torch.nn.ReLU}
    layers = []
    for module in net:
        if isinstance(module, nn.Linear):
            lin = torch.nn.Linear(module.in_features, module.out_features, dtype=torch.float64)
            with torch.no_grad():  # PyTorch stores the transpose: (out, in)
                lin.weight.copy_(torch.tensor(module.weight.data.T))
                lin.bias.copy_(torch.tensor(np.random.default_rng(9).normal(size=module.out_features)))
            module.bias.data[...] = lin.bias.detach().numpy()
            layers.append(lin)
        elif isinstance(module, nn.Softmax):
            layers.append(torch.nn.Softmax(dim=-1))
        else:
            layers.append(acts[type(module).__name__.lower()]())
    tnet = torch.nn.Sequential(*layers)
    x = np.random.default_rng(4).normal(size=(7, 4))
    target = np.random.default_rng(5).uniform(size=(7, 3))
    out = net(ag.Tensor(x))
    F.mse_loss(out, target).backward()
    tout = tnet(torch.tensor(x))
    torch.nn.functional.mse_loss(tout, torch.tensor(target)).backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    for ours, theirs in zip(net.linears, [m for m in tnet if isinstance(m, torch.nn.Linear)]):
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy().T, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-15)


# -- Sequential and activations ----------------------------------------------------------------------------
def test_sequential_container_behaviour():
    net = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Tanh())
    assert len(net) == 2 and isinstance(net[1], nn.Tanh) and list(net) == [net[0], net[1]]
    assert isinstance(net[:1], nn.Sequential) and len(net[:1]) == 1
    net.append(nn.Linear(3, 1, seed=1))
    assert [n for n, _ in net.named_parameters()] == ['0.weight', '0.bias', '2.weight', '2.bias']
    x = ag.Tensor(np.ones((2, 2)))
    np.testing.assert_allclose(net(x).data, net[2](ag.tanh(net[0](x))).data)
    with pytest.raises(TypeError, match="Sequential: layer 1 is a function, not a Module"):
        nn.Sequential(nn.Tanh(), lambda x: x)
    with pytest.raises(TypeError, match="Sequential.append: expected a Module, got int"):
        net.append(3)


def test_activation_modules_apply_their_ops():
    x = ag.Tensor(np.random.default_rng(0).normal(size=(3, 4)))
    pairs = [(nn.Sigmoid(), ag.sigmoid(x)), (nn.Tanh(), ag.tanh(x)), (nn.ReLU(), ag.relu(x)),
             (nn.Softmax(), ag.softmax(x, axis=-1)), (nn.Softmax(axis=0), ag.softmax(x, axis=0)),
             (nn.LogSoftmax(), ag.log_softmax(x, axis=-1))]
    for module, expected in pairs:
        np.testing.assert_allclose(module(x).data, expected.data, err_msg=repr(module))
    assert nn.Identity()(x) is x


# -- MLP -------------------------------------------------------------------------------------------------
def test_mlp_layout_and_options():
    net = nn.MLP([4, 8, 1], activation='sigmoid', output='sigmoid', bias=False, seed=0)
    assert [type(m).__name__ for m in net] == ['Linear', 'Sigmoid', 'Linear', 'Sigmoid']
    assert [n for n, _ in net.named_parameters()] == ['0.weight', '2.weight']  # the seed's 4-8-1 network
    assert [layer.weight.shape for layer in net.linears] == [(4, 8), (8, 1)]
    assert (net.sizes, net.activation, net.output) == ((4, 8, 1), 'sigmoid', 'sigmoid')
    assert isinstance(nn.MLP([2, 2], output='log_softmax')[-1], nn.LogSoftmax)


def test_mlp_argument_errors_list_the_choices():
    with pytest.raises(ValueError, match=r"MLP: unknown activation 'gelu'; choose one of 'sigmoid', 'tanh', 'relu'"):
        nn.MLP([4, 3], activation='gelu')
    with pytest.raises(ValueError, match=r"unknown output 'tanh'; choose one of None, 'sigmoid', 'softmax', "
                                         r"'log_softmax'"):
        nn.MLP([4, 3], output='tanh')
    with pytest.raises(ValueError, match=r"at least an input and an output size, got \(4,\)"):
        nn.MLP([4])


def test_same_seed_same_weights():
    same = [nn.MLP([4, 8, 3], seed=7).state_dict() for _ in range(2)]
    other = nn.MLP([4, 8, 3], seed=8).state_dict()
    from_rng = nn.MLP([4, 8, 3], rng=np.random.default_rng(7)).state_dict()
    for name in same[0]:
        np.testing.assert_array_equal(same[0][name], same[1][name])
        np.testing.assert_array_equal(same[0][name], from_rng[name])
    assert not np.array_equal(same[0]['0.weight'], other['0.weight'])


# -- init --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('fill,variance', [
    (init.glorot_uniform, 2 / (500 + 300)), (init.glorot_normal, 2 / (500 + 300)),
    (init.he_uniform, 2 / 500), (init.he_normal, 2 / 500)])
def test_initialiser_variance(fill, variance):
    # 150,000 draws: the sample variance has a standard error of 0.23% (uniform) or 0.37%
    # (normal) of the variance, the mean one of 0.26% of the standard deviation; the
    # tolerances below are 8 or more standard errors wide, so no seed can make them flake.
    w = fill((500, 300), rng=np.random.default_rng(0))
    assert w.shape == (500, 300) and w.dtype == np.float64
    assert abs(w.mean()) < 0.02 * np.sqrt(variance)
    assert abs(w.var() / variance - 1) < 0.03
    if fill.__name__.endswith('uniform'):
        assert np.abs(w).max() <= np.sqrt(3 * variance)


def test_mlp_uses_he_for_relu_and_glorot_otherwise():
    relu = nn.MLP([400, 300, 2], activation='relu', seed=0)[0].weight.data
    sigm = nn.MLP([400, 300, 2], activation='sigmoid', seed=0)[0].weight.data
    assert abs(relu.var() / (2 / 400) - 1) < 0.03
    assert abs(sigm.var() / (2 / 700) - 1) < 0.03


def test_init_details():
    np.testing.assert_array_equal(init.glorot_uniform((3, 2), rng=5), init.glorot_uniform((3, 2), rng=5))
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal
    assert init.he_normal((3, 2), dtype=np.float32).dtype == np.float32
    assert init.glorot_uniform((30, 20), rng=0, gain=2.0).max() > np.sqrt(6 / 50)
    with pytest.raises(ValueError, match=r"glorot_uniform: expected a weight shape \(fan_in, fan_out\), got \(3,\)"):
        init.glorot_uniform((3,))


# -- it learns ----------------------------------------------------------------------------------------------
def test_mlp_learns_iris():
    datasets = pytest.importorskip('sklearn.datasets')
    model_selection = pytest.importorskip('sklearn.model_selection')
    X, y = datasets.load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        X, y, test_size=30, stratify=y, random_state=0)
    net = nn.MLP([4, 8, 3], activation='sigmoid', seed=0)
    opt = ag.optim.Adam(net.parameters(), lr=0.05)
    X_train = ag.Tensor(X_train)
    for _ in range(200):
        opt.zero_grad()
        loss = F.cross_entropy(net(X_train), y_train)
        loss.backward()
        opt.step()
    with ag.no_grad():
        accuracy = (net(ag.Tensor(X_test)).data.argmax(axis=1) == y_test).mean()
    assert loss.item() < 0.15
    assert accuracy >= 0.9
