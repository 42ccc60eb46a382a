"""The function transforms (autograd_lite.func) against torch.func, in float64.

Each function below is written once against a namespace ``m`` (``ag`` or ``torch``), so the
same formula runs in both engines; results are compared leaf by leaf, structure included.
Then: nesting to third order, Tensors in and out, zeros for unused arguments, closures,
the pytree helper, and every error message. Skipped as a whole when torch is not importable.
"""
import collections

import numpy as np
import pytest
from hypothesis import given, settings

import autograd_lite as ag
from autograd_lite import func
from autograd_lite.pytree import describe, leaf_paths, tree_flatten, tree_map, tree_unflatten
from strategies import random_array, seeds, shapes

torch = pytest.importorskip("torch")
tf = torch.func

few = settings(max_examples=10, derandomize=True, deadline=None)


# -- comparing trees ----------------------------------------------------------------------
def to_torch(tree):
    return tree_map(lambda a: torch.tensor(np.asarray(a), dtype=torch.float64), tree)


def assert_close(ours, theirs, plain=True, rtol=1e-9, atol=1e-11, where='result'):
    """``ours`` has the structure of torch's ``theirs`` and the same leaves; in plain mode
    every leaf is an ndarray or a NumPy scalar, else a Tensor."""
    o_leaves, o_def = tree_flatten(ours)
    t_leaves, t_def = tree_flatten(theirs)
    assert o_def == t_def, f"{where}: structure {describe(ours)} but torch gives {describe(theirs)}"
    for a, b, path in zip(o_leaves, t_leaves, leaf_paths(o_def)):
        if plain:
            assert isinstance(a, (np.ndarray, np.generic)), f"{where}{path}: {type(a).__name__}"
        else:
            assert isinstance(a, ag.Tensor), f"{where}{path}: {type(a).__name__}"
            a = a.data
        b = b.detach().numpy()
        assert np.shape(a) == b.shape, f"{where}{path}: shape {np.shape(a)}, torch {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{where}{path}")


def rand(seed, *shape, **kw):
    return random_array(seed, shape, **kw)


# -- functions, written once for both engines ------------------------------------------------
def scalar_tanh(m, x):
    return (m.tanh(x) ** 2).sum()


def scalar_two(m, x, y):  # y broadcasts against x
    return (m.exp(x * 0.3) * m.sigmoid(y) + x * x * y).sum()


def vector_fn(m, x):
    return m.tanh(x) * x.sum() + x ** 3


def vector_two(m, x, W):  # (3,), (3, 4) -> (4,)
    return m.tanh(x @ W) * (W ** 2).sum(0)


def mlp_loss(m, params, X, Y):  # a 3-5-2 network, softmax cross-entropy with one-hot Y
    h = m.tanh(X @ params['W1'] + params['b1'])
    logits = h @ params['W2'] + params['b2']
    return -(Y * m.log_softmax(logits, -1)).sum() / X.shape[0]


def mlp_data(seed=0):
    rng = np.random.default_rng(seed)
    params = {'W1': rng.normal(size=(3, 5)), 'b1': rng.normal(size=5) * 0.1,
              'W2': rng.normal(size=(5, 2)), 'b2': rng.normal(size=2) * 0.1}
    X = rng.normal(size=(6, 3))
    Y = np.eye(2)[rng.integers(0, 2, size=6)]
    return params, X, Y


def ours(f):
    return lambda *a: f(ag, *a)


def theirs(f):
    return lambda *a: f(torch, *a)


# -- grad and value_and_grad -----------------------------------------------------------------
@few
@given(shape=shapes(max_dims=2), seed=seeds())
def test_grad_and_value_and_grad_of_one_argument_match_torch(shape, seed):
    x = rand(seed, *shape)
    assert_close(func.grad(ours(scalar_tanh))(x), tf.grad(theirs(scalar_tanh))(to_torch(x)))
    value, g = func.value_and_grad(ours(scalar_tanh))(x)
    t_g, t_value = tf.grad_and_value(theirs(scalar_tanh))(to_torch(x))
    assert_close((value, g), (t_value, t_g))
    assert isinstance(value, np.float64)


@few
@given(shape=shapes(min_dims=1, max_dims=2), seed=seeds())
def test_grad_of_several_arguments_each_argnums_matches_torch(shape, seed):
    x, y = rand(seed, *shape), rand(seed + 1, shape[-1])
    tx, ty = to_torch((x, y))
    for argnums in (0, 1, (0, 1), (1, 0), -1):
        assert_close(func.grad(ours(scalar_two), argnums)(x, y),
                     tf.grad(theirs(scalar_two), argnums)(tx, ty), where=f"argnums={argnums}")


def test_grad_of_a_dict_of_parameters_an_mlp_loss_matches_torch():
    params, X, Y = mlp_data()
    tparams, tX, tY = to_torch((params, X, Y))
    g = func.grad(ours(mlp_loss))(params, X, Y)
    assert list(g) == ['W1', 'b1', 'W2', 'b2']  # the parameters' order
    assert_close(g, tf.grad(theirs(mlp_loss))(tparams, tX, tY))
    (value, g2) = func.value_and_grad(ours(mlp_loss))(params, X, Y)
    assert_close((value, g2), tuple(reversed(tf.grad_and_value(theirs(mlp_loss))(tparams, tX, tY))))
    # the same as loss.backward() on Tensors
    tensors = {k: ag.Tensor(v, requires_grad=True) for k, v in params.items()}
    mlp_loss(ag, tensors, X, Y).backward()
    for k in params:
        np.testing.assert_allclose(g[k], tensors[k].grad, rtol=1e-12, atol=1e-15)


def test_has_aux_returns_aux_beside_the_gradient_as_torch():
    def f(m, x):
        y = m.tanh(x)
        return (y * y).sum(), {'y': y}
    x = rand(0, 4)
    g, aux = func.grad(ours(f), has_aux=True)(x)
    tg, taux = tf.grad(theirs(f), has_aux=True)(to_torch(x))
    # aux may hold anything: what is not a Tensor comes back as it was
    assert func.grad(lambda x: ((x * x).sum(), ['tanh', 3]), has_aux=True)(x)[1] == ['tanh', 3]
    assert_close((g, aux['y']), (tg, taux['y']))
    (value, aux), g = func.value_and_grad(ours(f), has_aux=True)(x)
    tg, (tvalue, taux) = tf.grad_and_value(theirs(f), has_aux=True)(to_torch(x))
    assert_close((value, aux['y'], g), (tvalue, taux['y'], tg))


def test_gradients_keep_structure_lists_tuples_namedtuples_and_numbers():
    Pair = collections.namedtuple('Pair', 'a b')

    def f(tree):
        (u, [v, w]), p = tree
        return (u * v).sum() + w ** 2 + (p.a * p.b).sum()
    tree = ((rand(0, 3), [rand(1, 3), 1.5]), Pair(rand(2, 2), rand(3, 2)))
    g = func.grad(f)(tree)
    (gu, [gv, gw]), gp = g
    assert isinstance(g, tuple) and isinstance(g[0][1], list) and isinstance(gp, Pair)
    np.testing.assert_allclose(gu, tree[0][1][0])
    np.testing.assert_allclose(gv, tree[0][0])
    assert gw == 3.0 and isinstance(gw, np.float64)
    np.testing.assert_allclose(gp.a, tree[1].b)


def test_a_float32_argument_gets_a_float32_gradient():
    x = rand(0, 3).astype(np.float32)
    g = func.grad(lambda x: (x * x).sum())(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)


# -- zeros, closures, constants ---------------------------------------------------------------
def test_an_argument_the_output_does_not_depend_on_gets_zeros_as_torch():
    x, y = rand(0, 3), rand(1, 2, 2)
    g = func.grad(lambda x, y: (x * 2.0).sum(), argnums=(0, 1))(x, y)
    assert_close(g, tf.grad(lambda x, y: (x * 2.0).sum(), argnums=(0, 1))(*to_torch((x, y))))
    assert g[1].shape == (2, 2) and not g[1].any()
    # a function that ignores its input altogether: zeros, and its constant value
    value, g = func.value_and_grad(lambda x: 3.0)(x)
    assert value == 3.0 and g.shape == (3,) and not g.any()
    jac = func.jacrev(lambda x, y: x * 2.0, argnums=1)(x, y)
    assert jac.shape == (3, 2, 2) and not jac.any()
    assert not func.jacfwd(lambda x: np.ones(2))(x).any() and func.jacfwd(lambda x: np.ones(2))(x).shape == (2, 3)


def test_values_the_function_closes_over_are_constants():
    # the classic perturbation confusion: d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
    assert func.grad(lambda x: x * func.grad(lambda y: x * y)(x))(2.0) == 4.0
    c = ag.Tensor(rand(0, 3), requires_grad=True)
    g = func.grad(lambda x: (x * c).sum())(rand(1, 3))
    np.testing.assert_allclose(g, c.data)
    assert c.grad is None  # nothing accumulated into a tensor the function used


def test_outer_no_grad_does_not_stop_a_transform():
    with ag.no_grad():
        g = func.grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [3.0, 12.0])


# -- Tensors in, Tensors out ----------------------------------------------------------------
def test_tensor_arguments_give_tensor_results_plain_give_ndarrays():
    x = rand(0, 4)
    g = func.grad(ours(scalar_tanh))(ag.Tensor(x))
    assert isinstance(g, ag.Tensor) and not g.requires_grad
    assert_close(g, tf.grad(theirs(scalar_tanh))(to_torch(x)), plain=False)
    value, g = func.value_and_grad(ours(scalar_tanh))(ag.Tensor(x))
    assert isinstance(value, ag.Tensor) and not value.requires_grad
    jac = func.jacfwd(ours(vector_fn))(ag.Tensor(x))
    assert_close(jac, tf.jacfwd(theirs(vector_fn))(to_torch(x)), plain=False)
    assert isinstance(func.hessian(ours(scalar_tanh))(x), np.ndarray)


def test_a_result_on_a_tensor_that_requires_grad_is_differentiable_with_backward():
    x = rand(0, 4)
    xt = ag.Tensor(x, requires_grad=True)
    g = func.grad(ours(scalar_tanh))(xt)
    assert g.requires_grad
    (g * g).sum().backward()
    tx = to_torch(x).requires_grad_()
    tg = tf.grad(theirs(scalar_tanh))(tx)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10)


# -- vjp and jvp ----------------------------------------------------------------------------
@few
@given(seed=seeds())
def test_vjp_of_two_arguments_and_a_tuple_output_matches_torch(seed):
    x, W = rand(seed, 3), rand(seed + 1, 3, 4)

    def f(m, x, W):
        return vector_two(m, x, W), (x * x).sum()
    out, vjp_fn = func.vjp(ours(f), x, W)
    tout, tvjp_fn = tf.vjp(theirs(f), *to_torch((x, W)))
    assert_close(out, tout)
    for k in range(2):  # vjp_fn may be called again
        cot = (rand(seed + 2 + k, 4), np.float64(1.5 + k))
        assert_close(vjp_fn(cot), tvjp_fn(to_torch(cot)), where=f"call {k}")


def test_vjp_has_aux_returns_a_triple_as_torch():
    x = rand(0, 3)
    out, vjp_fn, aux = func.vjp(lambda x: (x * x, x.sum()), x, has_aux=True)
    tout, tvjp_fn, taux = tf.vjp(lambda x: (x * x, x.sum()), to_torch(x), has_aux=True)
    assert_close((out, aux, vjp_fn(np.ones(3))), (tout, taux, tvjp_fn(torch.ones(3, dtype=torch.float64))))


@few
@given(shape=shapes(min_dims=1, max_dims=2), seed=seeds())
def test_jvp_matches_torch(shape, seed):
    x, v = rand(seed, *shape), rand(seed + 1, *shape)
    out, jv = func.jvp(ours(vector_fn), (x,), (v,))
    tout, tjv = tf.jvp(theirs(vector_fn), *to_torch(((x,), (v,))))
    assert_close((out, jv), (tout, tjv))


def test_jvp_of_two_arguments_a_dict_and_has_aux_matches_torch():
    params, X, Y = mlp_data(1)
    tangent = {k: rand(i + 7, *v.shape) for i, (k, v) in enumerate(params.items())}
    dX = rand(5, *X.shape)

    def f(m, params, X):
        loss = mlp_loss(m, params, X, Y if m is ag else torch.tensor(Y))
        return loss, {'scaled': loss * 2}
    out, jv, aux = func.jvp(ours(f), (params, X), (tangent, dX), has_aux=True)
    tout, tjv, taux = tf.jvp(theirs(f), to_torch((params, X)), to_torch((tangent, dX)), has_aux=True)
    assert_close((out, jv, aux), (tout, tjv, taux))


def test_hvp_matches_torch_jvp_of_grad():
    params, X, Y = mlp_data(2)
    v = {k: rand(i, *p.shape) for i, (k, p) in enumerate(params.items())}
    value, (hv,) = func.hvp(lambda p: mlp_loss(ag, p, X, Y), (params,), (v,))
    tX, tY = to_torch((X, Y))
    tvalue = mlp_loss(torch, to_torch(params), tX, tY)
    _, thv = tf.jvp(tf.grad(lambda p: mlp_loss(torch, p, tX, tY)), (to_torch(params),), (to_torch(v),))
    assert_close((value, hv), (tvalue, thv))


# -- Jacobians and Hessians ---------------------------------------------------------------------
@few
@given(shape=shapes(max_dims=2), seed=seeds())
def test_jacrev_and_jacfwd_match_torch(shape, seed):
    x = rand(seed, *shape)
    for ours_t, theirs_t in ((func.jacrev, tf.jacrev), (func.jacfwd, tf.jacfwd), (func.jacobian, tf.jacrev)):
        jac = ours_t(ours(vector_fn))(x)
        assert jac.shape == shape + shape
        assert_close(jac, theirs_t(theirs(vector_fn))(to_torch(x)), where=ours_t.__name__)


def test_jacobians_of_tuple_outputs_several_arguments_and_aux_match_torch():
    x, W = rand(0, 3), rand(1, 3, 4)

    def f(m, x, W):
        return (vector_two(m, x, W), (x * x).sum()), x.sum()
    args = to_torch((x, W))
    for argnums in (0, 1, (0, 1)):
        for ours_t, theirs_t in ((func.jacrev, tf.jacrev), (func.jacfwd, tf.jacfwd)):
            jac, aux = ours_t(ours(f), argnums, has_aux=True)(x, W)
            tjac, taux = theirs_t(theirs(f), argnums, has_aux=True)(*args)
            assert_close((jac, aux), (tjac, taux), where=f"{ours_t.__name__} argnums={argnums}")


def test_jacobian_of_a_dict_output_and_input_matches_torch():
    def f(m, p):
        return {'h': m.tanh(p['W'] @ p['b']), 's': (p['b'] ** 2).sum()}
    p = {'W': rand(0, 2, 3), 'b': rand(1, 3)}
    for ours_t, theirs_t in ((func.jacrev, tf.jacrev), (func.jacfwd, tf.jacfwd)):
        assert_close(ours_t(ours(f))(p), theirs_t(theirs(f))(to_torch(p)), where=ours_t.__name__)


@few
@given(shape=shapes(max_dims=2, max_side=3), seed=seeds())
def test_hessian_matches_torch(shape, seed):
    x = rand(seed, *shape)
    H = func.hessian(ours(scalar_tanh))(x)
    assert H.shape == shape + shape
    assert_close(H, tf.hessian(theirs(scalar_tanh))(to_torch(x)))


def test_hessian_of_an_mlp_loss_in_a_dict_of_parameters_matches_torch():
    params, X, Y = mlp_data(3)
    H = func.hessian(ours(mlp_loss))(params, X, Y)
    assert H['W1']['W2'].shape == (3, 5, 5, 2)
    assert_close(H, tf.hessian(theirs(mlp_loss))(*to_torch((params, X, Y))))


def test_hessian_of_several_arguments_and_of_a_vector_output_match_torch():
    x, y = rand(0, 3), rand(1, 3)
    args = to_torch((x, y))
    assert_close(func.hessian(ours(scalar_two), (0, 1))(x, y), tf.hessian(theirs(scalar_two), (0, 1))(*args))
    assert_close(func.hessian(ours(vector_fn))(x), tf.hessian(theirs(vector_fn))(args[0]))


# -- nesting ------------------------------------------------------------------------------------
def g1(m, x):
    return m.tanh(x) * x + m.exp(x * 0.5)


def test_grad_of_grad_to_third_order_on_a_scalar_matches_torch():
    x = 0.7
    ours_d, theirs_d = ours(g1), theirs(g1)
    for order in (1, 2, 3):
        ours_d, theirs_d = func.grad(ours_d), tf.grad(theirs_d)
        assert_close(ours_d(x), theirs_d(torch.tensor(x, dtype=torch.float64)), where=f"order {order}")


def test_jacfwd_of_jacrev_and_jacrev_of_jacfwd_are_the_hessian():
    x = rand(0, 4)
    tH = tf.hessian(theirs(scalar_tanh))(to_torch(x))
    assert_close(func.jacfwd(func.jacrev(ours(scalar_tanh)))(x), tH)
    assert_close(func.jacrev(func.jacfwd(ours(scalar_tanh)))(x), tH)
    assert_close(func.jacfwd(func.jacfwd(ours(scalar_tanh)))(x), tH)


def test_third_order_jacrev_of_hessian_and_jacfwd_of_hessian_match_torch():
    x = rand(0, 3)
    t3 = tf.jacrev(tf.hessian(theirs(vector_fn)))(to_torch(x))
    assert func.jacrev(func.hessian(ours(vector_fn)))(x).shape == (3,) * 4
    assert_close(func.jacrev(func.hessian(ours(vector_fn)))(x), t3)
    assert_close(func.jacfwd(func.hessian(ours(scalar_tanh)))(x),
                 tf.jacfwd(tf.hessian(theirs(scalar_tanh)))(to_torch(x)))


def test_hessian_of_a_function_that_calls_grad_matches_torch():
    x = rand(0, 4)

    def f(m, t, x):
        return (t.grad(lambda x: scalar_tanh(m, x))(x) ** 3).sum()
    assert_close(func.hessian(lambda x: f(ag, func, x))(x), tf.hessian(lambda x: f(torch, tf, x))(to_torch(x)))


def test_vjp_jvp_and_hvp_inside_grad_match_torch():
    x, v = rand(0, 3), rand(1, 3)
    tv = to_torch(v)

    def through_vjp(t, m):
        return lambda x: (t.vjp(lambda x: vector_fn(m, x), x)[1](x * 1.0)[0] ** 2).sum()

    def through_jvp(t, m, v):
        return lambda x: (t.jvp(lambda x: vector_fn(m, x), (x,), (v,))[1] * x).sum()
    assert_close(func.grad(through_vjp(func, ag))(x), tf.grad(through_vjp(tf, torch))(to_torch(x)))
    assert_close(func.grad(through_jvp(func, ag, v))(x), tf.grad(through_jvp(tf, torch, tv))(to_torch(x)))
    # the Hessian-vector product is differentiable in x too (third derivatives)
    ours_hvp = lambda x: func.hvp(ours(scalar_tanh), (x,), (v,))[1][0].sum()
    theirs_hvp = lambda x: tf.jvp(tf.grad(theirs(scalar_tanh)), (x,), (tv,))[1].sum()
    assert_close(func.grad(ours_hvp)(x), tf.grad(theirs_hvp)(to_torch(x)))


def test_inner_transform_of_a_closed_over_plain_argument_stays_differentiable():
    # the inner grad's argument y0 is plain, but its function depends on the outer x
    y0 = rand(0, 3)

    def f(t, m, x):
        return (t.grad(lambda y: (m.tanh(x * y) ** 2).sum())(y0 if t is func else torch.tensor(y0)) * x).sum()
    x = rand(1, 3)
    assert_close(func.grad(lambda x: f(func, ag, x))(x), tf.grad(lambda x: f(tf, torch, x))(to_torch(x)))


# -- NumPy's own functions (issue 12's dispatch) -------------------------------------------------------
def _numpy_dispatches():
    try:
        return isinstance(np.tanh(ag.Tensor(np.zeros(2))), ag.Tensor)
    except TypeError:  # without dispatch, Tensor.__array_ufunc__ = None refuses NumPy's functions
        return False


numpy_dispatch = pytest.mark.skipif(
    not _numpy_dispatches(), reason="np.tanh(Tensor) does not return a Tensor: NumPy dispatch (issue 12) is "
    "not in this tree, so functions written with NumPy's own functions cannot be differentiated")


@numpy_dispatch
def test_transforms_of_functions_written_with_numpys_own_functions_match_torch():
    x, v = rand(0, 4), rand(1, 4)
    f = lambda x: np.sum(np.tanh(x) ** 2) + np.dot(x, np.exp(x * 0.1))
    tfn = lambda x: torch.sum(torch.tanh(x) ** 2) + torch.dot(x, torch.exp(x * 0.1))
    tx, tv = to_torch((x, v))
    assert_close(func.grad(f)(x), tf.grad(tfn)(tx))
    assert_close(func.hessian(f)(x), tf.hessian(tfn)(tx))
    assert_close(func.grad(func.grad(lambda s: np.tanh(s) * s))(0.3),
                 tf.grad(tf.grad(lambda s: torch.tanh(s) * s))(torch.tensor(0.3, dtype=torch.float64)))
    vec = lambda x: np.tanh(x) * np.sum(x)
    tvec = lambda x: torch.tanh(x) * torch.sum(x)
    assert_close(func.jacrev(vec)(x), tf.jacrev(tvec)(tx))
    assert_close(func.jacfwd(vec)(x), tf.jacfwd(tvec)(tx))
    assert_close(func.jvp(vec, (x,), (v,)), tf.jvp(tvec, (tx,), (tv,)))
    out, vjp_fn = func.vjp(vec, x)
    tout, tvjp_fn = tf.vjp(tvec, tx)
    assert_close((out, vjp_fn(v)), (tout, tvjp_fn(tv)))
    # third order, and the hessian of a function that calls grad
    assert_close(func.jacrev(func.hessian(vec))(x), tf.jacrev(tf.hessian(tvec))(tx))
    assert_close(func.hessian(lambda x: np.sum(func.grad(f)(x) ** 3))(x),
                 tf.hessian(lambda x: torch.sum(tf.grad(tfn)(x) ** 3))(tx))


def numpy_mlp_loss(params, X, Y):
    """The MLP loss of the tests above, written as NumPy code."""
    h = np.tanh(np.dot(X, params['W1']) + params['b1'])
    logits = np.dot(h, params['W2']) + params['b2']
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / X.shape[0]


@numpy_dispatch
def test_grad_and_hessian_of_a_numpy_mlp_loss_in_a_dict_match_torch():
    params, X, Y = mlp_data(4)
    targs = to_torch((params, X, Y))
    value, g = func.value_and_grad(numpy_mlp_loss)(params, X, Y)
    assert_close((value, g), tuple(reversed(tf.grad_and_value(theirs(mlp_loss))(*targs))))
    assert_close(func.hessian(numpy_mlp_loss)(params, X, Y), tf.hessian(theirs(mlp_loss))(*targs))


# -- errors -------------------------------------------------------------------------------------
def raises(exc, message):
    import re
    return pytest.raises(exc, match='^' + re.escape(message) + '$')


def test_grad_of_a_non_scalar_output_says_its_shape_and_what_to_do():
    msg = ("{}: the function must return a scalar, but it returned a Tensor of shape (3,); reduce it first "
           "(e.g. .sum() or .mean()), or use jacrev or vjp for a non-scalar output")
    with raises(ValueError, msg.format('grad')):
        func.grad(lambda x: x * 2)(np.ones(3))
    with raises(ValueError, msg.format('value_and_grad')):
        func.value_and_grad(lambda x: x * 2)(np.ones(3))
    with raises(ValueError, msg.format('hvp')):
        func.hvp(lambda x: x * 2, (np.ones(3),), (np.ones(3),))
    with raises(ValueError, msg.format('grad').replace('a Tensor', 'an array')):
        func.grad(lambda x: np.ones(3))(np.ones(3))
    with raises(TypeError, "grad: the function must return a scalar, but it returned a tuple of 2 items; "
                           "if it returns (output, aux), pass has_aux=True"):
        func.grad(lambda x: (x.sum(), x))(np.ones(3))
    with raises(TypeError, "grad: the function must return a scalar, but it returned a str"):
        func.grad(lambda x: 'loss')(np.ones(3))


def test_argnums_out_of_range_or_not_an_int_is_named():
    f = lambda x, y: (x * y).sum()
    with raises(ValueError, "grad: argnums=2 is out of range: the function was called with 2 positional "
                            "arguments, so argnums must be in 0..1 (or -2..-1)"):
        func.grad(f, argnums=2)(1.0, 2.0)
    with raises(ValueError, "jacrev: argnums=-3 is out of range: the function was called with 2 positional "
                            "arguments, so argnums must be in 0..1 (or -2..-1)"):
        func.jacrev(f, argnums=(0, -3))(1.0, 2.0)
    with raises(ValueError, "grad: argnums=0 is out of range: the function was called with no positional "
                            "arguments; pass the values to differentiate by position"):
        func.grad(lambda x=1.0: x)()
    with raises(ValueError, "grad: argnums=(0, -2) names the same argument twice"):
        func.grad(f, argnums=(0, -2))(1.0, 2.0)
    for bad, shown in ((1.0, "1.0 (float)"), ([0, 1], "[0, 1] (list)"), ((), "() (tuple)"),
                       (True, "True (bool)"), ((0, '1'), "(0, '1') (tuple)")):
        with raises(TypeError, f"hessian: argnums must be an int or a non-empty tuple of ints, got {shown}"):
            func.hessian(f, argnums=bad)  # at once, where the mistake is made


def test_an_integer_or_non_numeric_argument_to_differentiate_is_named():
    tail = ("gradients need floating-point values; pass it as floats (e.g. np.asarray(x, dtype=np.float64)) "
            "or leave it out of argnums")
    f = lambda x, y=None: (x * 1.0).sum()
    with raises(TypeError, f"grad: cannot differentiate with respect to argument 0, an array of dtype int64: {tail}"):
        func.grad(f)(np.arange(3))
    with raises(TypeError, f"grad: cannot differentiate with respect to argument 1, the int 3: {tail}"):
        func.grad(f, argnums=1)(1.0, 3)
    with raises(TypeError, f"jacrev: cannot differentiate with respect to argument 0['n'], a Tensor of dtype "
                           f"int64: {tail}"):
        func.jacrev(lambda p: p['w'])({'w': np.ones(2), 'n': ag.Tensor(np.arange(2))})
    with raises(TypeError, "vjp: cannot differentiate with respect to argument 0[1], a str: pass arrays, numbers "
                           "or Tensors (or tuples, lists and dicts of them), or leave it out of argnums"):
        func.vjp(lambda p: p[0], (np.ones(2), 'relu'))
    # not differentiated: integers pass through
    assert func.grad(lambda x, n: (x ** n).sum())(np.ones(2), 3).tolist() == [3.0, 3.0]


def test_has_aux_with_a_function_that_does_not_return_a_pair():
    with raises(TypeError, "grad: has_aux=True needs the function to return a pair (output, aux), but it "
                           "returned a Tensor of shape ()"):
        func.grad(lambda x: (x * x).sum(), has_aux=True)(np.ones(2))
    with raises(TypeError, "jacfwd: has_aux=True needs the function to return a pair (output, aux), but it "
                           "returned a tuple of 3 items"):
        func.jacfwd(lambda x: (x, x, x), has_aux=True)(np.ones(2))


def test_tangents_that_do_not_match_the_primals_name_both():
    f = lambda x, p: (x * p['W']).sum()
    x, p = np.ones(3), {'W': np.ones((2, 3))}
    with raises(ValueError, "jvp: tangents must have the structure of primals: primals is ((3,), {'W': (2, 3)}) "
                            "but tangents is ((3,), (2, 3))"):
        func.jvp(f, (x, p), (x, p['W']))
    with raises(ValueError, "jvp: tangents[1]['W'] has shape (3, 2) but primals[1]['W'] has shape (2, 3); "
                            "they must be equal"):
        func.jvp(f, (x, p), (x, {'W': np.ones((3, 2))}))
    with raises(ValueError, "hvp: tangents[0] has shape (4,) but primals[0] has shape (3,); they must be equal"):
        func.hvp(f, (x, p), (np.ones(4), p))
    with raises(TypeError, "jvp: primals must be a tuple of the function's arguments, got an array of shape (3,); "
                           "for one argument x write (x,)"):
        func.jvp(lambda x: x, x, (x,))
    with raises(TypeError, "jvp: tangents[0] is a str, not an array or a number"):
        func.jvp(lambda x: x, (x,), ('up',))


def test_cotangents_that_do_not_match_the_output_name_both():
    out, vjp_fn = func.vjp(lambda x: (x * 2, x.sum()), np.ones(3))
    with raises(ValueError, "vjp: cotangents must have the structure of the output: the output is ((3,), ()) "
                            "but cotangents is (3,)"):
        vjp_fn(np.ones(3))
    with raises(ValueError, "vjp: cotangents[0] has shape (2,) but the output[0] has shape (3,); they must be equal"):
        vjp_fn((np.ones(2), 1.0))


def test_transforming_a_value_instead_of_a_function():
    with raises(TypeError, "grad: expected a function to transform, got ndarray; pass the function itself "
                           "(grad(f)(x)), not its value (grad(f(x)))"):
        func.grad(np.ones(3))
    with raises(TypeError, "vjp: give the primals after the function: vjp(f, x) or vjp(f, x, y)"):
        func.vjp(lambda x: x)


# -- the pytree helper ------------------------------------------------------------------------
def test_pytree_round_trip_paths_and_description():
    Pair = collections.namedtuple('Pair', 'a b')
    tree = {'W': np.ones((2, 3)), 'rest': [1.0, (Pair(np.zeros(2), 3), None)]}
    leaves, treedef = tree_flatten(tree)
    assert len(leaves) == 5 and leaves[0] is tree['W']
    back = tree_unflatten(treedef, leaves)
    assert isinstance(back['rest'][1][0], Pair) and back['rest'][1][1] is None and back['rest'][0] == 1.0
    assert leaf_paths(treedef) == ["['W']", "['rest'][0]", "['rest'][1][0][0]", "['rest'][1][0][1]",
                                   "['rest'][1][1]"]
    assert describe(tree) == "{'W': (2, 3), 'rest': [float, (((2,), int), NoneType)]}"
    assert describe((np.ones(1),)) == "((1,),)"
    with pytest.raises(ValueError, match="fewer leaves"):
        tree_unflatten(treedef, leaves[:-1])
    with pytest.raises(ValueError, match="more leaves"):
        tree_unflatten(treedef, leaves + [1])


# -- the arguments' arrays during a call ------------------------------------------------------------
def test_differentiated_arrays_are_read_only_for_the_call_and_given_back_after():
    a = np.array([1.0, 2.0])

    def writes_after_use(x):
        y = (x * x).sum()
        x.data[0] = 5.0
        return y

    def writes_before_use(x):
        x.data[0] = 5.0  # read-only from the start of the call, not from its first use
        return (x * x).sum()

    for f in (writes_after_use, writes_before_use):
        with pytest.raises(ValueError, match="read-only"):
            func.grad(f)(a)
        assert a.flags.writeable and a.tolist() == [1.0, 2.0]  # given back, unchanged, after the error
    assert func.grad(lambda x: (x * x).sum())(a).tolist() == [2.0, 4.0] and a.flags.writeable
    both = func.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(a, a)  # one array, two arguments
    assert [g.tolist() for g in both] == [[1.0, 2.0], [1.0, 2.0]] and a.flags.writeable
    frozen = np.array([3.0])
    frozen.flags.writeable = False
    func.hessian(lambda x: (x ** 3).sum())(frozen)
    assert not frozen.flags.writeable  # read-only already: stays so
    for transform in (lambda: func.jacfwd(lambda x: x * x)(a), lambda: func.jvp(lambda x: x * x, (a,), (a,)),
                      lambda: func.hvp(lambda x: (x ** 3).sum(), (a,), (a,))):
        transform()
        assert a.flags.writeable


def test_a_counted_change_of_an_argument_inside_the_call_is_refused():
    from autograd_lite.engine import writing

    def steps_its_argument(x):
        y = (x * x).sum()
        with writing(x) as data:  # what an optimizer's step does
            data -= 1.0
        return y
    a = np.array([1.0, 2.0])
    message = ("writing: the tensor of shape (2,) is an argument that a running function transform (grad, "
               "value_and_grad, jvp, ...) differentiates, so changing it in place (an optimizer's step, "
               "writing()) would make its gradient wrong; inside a transformed function the arguments are "
               "read-only: compute a new value instead (x = x - lr * g)")
    with raises(RuntimeError, message):
        func.value_and_grad(steps_its_argument)(a)
    assert a.flags.writeable and a.tolist() == [1.0, 2.0]  # refused before the write

    def steps_with_an_optimizer(x):
        y = (x * x).sum()
        ag.optim.SGD([x], lr=0.1).step()  # x.grad is None: SGD skips it; so give it one
        x.grad = np.ones(2)
        ag.optim.SGD([x], lr=0.1).step()
        return y
    with raises(RuntimeError, message):
        func.grad(steps_with_an_optimizer)(a)
    assert a.flags.writeable and a.tolist() == [1.0, 2.0]


def test_vjp_keeps_the_per_node_guard_while_its_vjp_fn_lives():
    a = np.array([1.0, 2.0])
    out, vjp_fn = func.vjp(lambda x: x * x, a)
    with pytest.raises(ValueError, match="read-only"):  # vjp_fn would read the changed array
        a[0] = 5.0
    assert vjp_fn(np.ones(2))[0].tolist() == [2.0, 4.0]
    del vjp_fn  # its graph ends: the array is given back
    assert a.flags.writeable


def test_with_the_guard_off_a_transform_holds_nothing():
    previous = ag.guard_saved_arrays(False)
    try:
        a = np.array([1.0, 2.0])

        def writes(x):
            assert a.flags.writeable
            return (x * x).sum()
        assert func.grad(writes)(a).tolist() == [2.0, 4.0]
    finally:
        ag.guard_saved_arrays(previous)


# -- the example -------------------------------------------------------------------------------
def test_the_newton_and_curvature_example_meets_its_claims(capsys):
    pytest.importorskip('sklearn')
    import runpy
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / 'examples' / 'newton_and_curvature.py'
    result = runpy.run_path(str(path), run_name='example')['main']()
    assert result['newton_steps'] <= 8
    assert result['hvp_diff'] < 1e-12 and result['gnvp_diff'] < 1e-12
    gd, gn = zip(*result['losses'])
    assert all(a > b for a, b in zip(gn, gn[1:])) and gn[-1] < 0.5 * gd[-1]
    assert "by power iteration" in capsys.readouterr().out


def test_the_examples_in_docs_func_md_print_what_the_code_prints():
    import doctest
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / 'docs' / 'func.md'
    result = doctest.testfile(str(path), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 25 and result.failed == 0


def test_the_docstrings_examples_run():
    import doctest
    from autograd_lite import pytree
    for module in (func, pytree):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= 3 and result.failed == 0, module.__name__


# -- grad and value_and_grad of plain arrays: the [speed] path gives what the general path gives ---
def _iris_like(p, X, y):
    h = ag.sigmoid(X @ p['W1'] + p['b1'])
    return ag.nn.functional.cross_entropy(h @ p['W2'] + p['b2'], y)


def _params(dtype=np.float64):
    return {'W1': rand(1, 4, 8).astype(dtype), 'b1': rand(2, 8).astype(dtype),
            'W2': rand(3, 8, 3).astype(dtype), 'b2': rand(4, 3).astype(dtype)}


def _writes_its_argument(x):
    y = (x * x).sum()
    x.data[0] = 5.0
    return y


def _steps_its_argument(x):
    with ag.engine.writing(x) as data:
        data -= 1.0
    return (x * x).sum()


X_IRIS, Y_IRIS = rand(5, 12, 4), np.arange(12) % 3
_SHARED = {'a': rand(23, 3)}
USUAL_CALLS = {  # name: (function, arguments, keywords of the transform)
    'a dict of parameters (the iris loss)': (_iris_like, (_params(), X_IRIS, Y_IRIS), {}),
    'float32 parameters': (_iris_like, (_params(np.float32), X_IRIS.astype(np.float32), Y_IRIS), {}),
    'one array': (lambda x: (x ** 3).sum(), (rand(6, 3),), {}),
    'a 0-d array': (lambda x: x ** 3, (np.array(2.0),), {}),
    'a list of arrays': (lambda xs: (xs[0] * xs[1]).sum(), ([rand(7, 3), rand(8, 3)],), {}),
    'a nested dict': (lambda p: (p['a']['b'] ** 2).sum() + p['c'].sum(), ({'a': {'b': rand(9, 2)}, 'c': rand(10, 2)},), {}),
    'the second argument': (lambda x, y: (x * y).sum(), (rand(11, 3), rand(12, 3)), {'argnums': 1}),
    'a negative argnums': (lambda x, y: (x * y).sum(), (rand(11, 3), rand(12, 3)), {'argnums': -1}),
    'an unused argument': (lambda x, y: (y ** 2).sum(), (rand(13, 2, 2), rand(14, 3)), {}),
    'a constant output': (lambda x: 3.0, (rand(15, 2),), {}),
    'a Tensor output outside the graph': (lambda x: ag.Tensor(np.array(1.5)), (rand(15, 2),), {}),
    'aux of Tensors, arrays and numbers': (lambda x: ((x * x).sum(), {'t': x * 2, 'a': np.ones(2), 'n': 3}),
                                           (rand(16, 2),), {'has_aux': True}),
    'one dict passed twice': (lambda p, q: (p['a'] * q['a']).sum(), (_SHARED, _SHARED), {}),
    'a Tensor in another argument': (lambda x, w: (x * w).sum(), (rand(17, 2), ag.Tensor(rand(18, 2), requires_grad=True)), {}),
    'a non-scalar output': (lambda x: x * 2, (rand(19, 2),), {}),
    'has_aux without a pair': (lambda x: (x * x).sum(), (rand(20, 2),), {'has_aux': True}),
    'an int argument': (lambda x: x * 2, (np.arange(3),), {}),
    'a write into the argument': (_writes_its_argument, (rand(21, 2),), {}),
    'a counted change of the argument': (_steps_its_argument, (rand(22, 2),), {}),
}


def _outcome(transform, f, args, kwargs):
    """The result, or the error's type and message; and whether the arrays were given back."""
    try:
        result = transform(f, **kwargs)(*args)
    except Exception as exc:  # (the comparison is of the whole outcome, errors included)
        result = (type(exc), str(exc))
    return result, [a.flags.writeable for a in tree_flatten(args)[0] if isinstance(a, np.ndarray)]


def _assert_same(a, b, where='result'):
    """Equal trees: the same containers, leaf classes, dtypes and values, bit for bit."""
    a_leaves, a_def = tree_flatten(a)
    b_leaves, b_def = tree_flatten(b)
    assert a_def == b_def, where
    for x, y, path in zip(a_leaves, b_leaves, leaf_paths(a_def)):
        assert type(x) is type(y), f"{where}{path}: {type(x).__name__} against {type(y).__name__}"
        if isinstance(x, ag.Tensor):
            x, y = x.data, y.data
        if isinstance(x, (np.ndarray, np.generic)):
            assert x.dtype == y.dtype and np.shape(x) == np.shape(y) and np.array_equal(x, y), f"{where}{path}"
        else:
            assert x == y, f"{where}{path}"


@pytest.mark.parametrize('transform', [func.grad, func.value_and_grad])
@pytest.mark.parametrize('case', USUAL_CALLS)
def test_the_usual_call_gives_what_the_general_path_gives(monkeypatch, transform, case):
    f, args, kwargs = USUAL_CALLS[case]
    fast = _outcome(transform, f, args, kwargs)
    with monkeypatch.context() as m:  # every call takes the general path (_Call)
        m.setattr(func, '_value_and_grad_of_arrays', lambda *a: func._NOT_USUAL)
        general = _outcome(transform, f, args, kwargs)
    _assert_same(fast, general)
    assert all(fast[1]), "an argument's array was not given back"


def test_the_usual_call_takes_the_fast_path_and_the_others_the_general_one(monkeypatch):
    class NoCall:
        def __init__(self, *args, **kwargs):
            raise AssertionError("the general path ran")
    monkeypatch.setattr(func, '_Call', NoCall)
    value, grads = func.value_and_grad(_iris_like)(_params(), X_IRIS, Y_IRIS)
    assert set(grads) == {'W1', 'b1', 'W2', 'b2'} and np.isfinite(value)
    with ag.no_grad():
        assert func.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    others = [lambda: func.grad(lambda x: (x ** 2).sum(), argnums=(0,))(np.ones(2)),  # a tuple argnums
              lambda: func.grad(lambda x: (x ** 2).sum())([1.0, 2.0]),                # numbers, not arrays
              lambda: func.grad(lambda x: (x ** 2).sum())(ag.Tensor(np.ones(2))),     # a Tensor
              lambda: func.grad(func.grad(lambda x: (x ** 3).sum()))(np.ones(1)),      # inside a transform
              lambda: func.grad(lambda x, y: (x * y).sum())(np.ones(2), [np.ones(2)])]  # a list elsewhere
    for call in others:
        with pytest.raises(AssertionError, match="the general path ran"):
            call()
