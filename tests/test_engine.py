"""The engine: recording, the backward pass, release, accumulation, hooks, grad modes and ag.grad."""
import gc
import threading
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Tensor
from strategies import random_array


def leaf(*shape, seed=0, **kw):
    return Tensor(random_array(seed, shape, **kw), requires_grad=True)


@pytest.fixture
def no_gc():
    """Turn the cycle collector off, so that only reference counting can free objects."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- values used many times ------------------------------------------------------------------------------
def test_a_value_used_twice_in_one_op():
    x = leaf(3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_a_value_used_many_times():
    x = leaf(4)
    (x * x * x + x + x / 2 - x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * x.data ** 2 + 0.5)


def test_diamonds_sum_the_gradients_of_every_path():
    # x -> a -> (b, c) -> d -> (e, f) -> out: every node reached along two paths.
    x = leaf(2, 3)

    def f(x):
        a = x * 2
        b, c = a.exp(), ag.tanh(a)
        d = b * c
        e, f = d.sum(axis=0), d.max(axis=1, keepdims=True)
        return (e * f).sum() + a.sum()
    f(x).backward()
    (numeric,) = ag.numerical_grad(f, x)
    np.testing.assert_allclose(x.grad, numeric, rtol=1e-6)


def test_gradients_accumulate_over_two_backward_calls():
    x = leaf(3)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * x.data)
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0, 3.0])


def test_accumulation_does_not_write_into_arrays_of_the_graph():
    # The first stored gradient is a copy: += on it must not change the upstream array the user passed.
    x = leaf(3)
    upstream = np.ones(3)
    (x * 1.0).backward(upstream)
    x.backward(upstream)  # a leaf as root: its gradient is the upstream itself
    np.testing.assert_array_equal(upstream, np.ones(3))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


# -- root gradient --------------------------------------------------------------------------------------
def test_backward_of_a_non_scalar_without_grad_says_what_to_pass():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r"output has shape \(2, 3\).*pass grad= an array of shape \(2, 3\)"):
        y.backward()


def test_backward_of_a_one_element_tensor_implies_ones():
    x = leaf(1, 1)
    (x * 5).backward()
    np.testing.assert_array_equal(x.grad, [[5.0]])


def test_backward_with_a_grad_of_the_wrong_shape_is_a_value_error():
    y = leaf(2, 3) * 2
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the output has shape \(2, 3\)"):
        y.backward(np.ones(3))
    y.backward([[1, 2, 3], [4, 5, 6]])  # any array-like of the right shape (and this graph is intact)


def test_backward_on_a_tensor_without_graph_explains():
    with pytest.raises(RuntimeError, match='does not require grad'):
        Tensor([1.0]).sum().backward()


def test_module_level_backward():
    x = leaf(3)
    ag.backward(x * 2, grad=np.arange(3.0))
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 4.0])


# -- retain_graph and release --------------------------------------------------------------------------
def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_a_second_backward_through_a_released_graph_says_retain_graph():
    x = leaf(3)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_release_frees_the_intermediates_while_the_output_lives(no_gc):
    x = leaf(100)
    hidden = x.exp()
    ref = weakref.ref(hidden)
    loss = (hidden * hidden).sum()
    del hidden
    loss.backward(retain_graph=True)
    assert ref() is not None  # retained: the graph still holds it
    loss.backward()
    assert ref() is None  # released by the backward pass, although loss is alive


# -- which tensors keep .grad ---------------------------------------------------------------------------
def test_intermediates_keep_no_grad_unless_retain_grad():
    x, w1, w2 = leaf(5, 4), leaf(4, 3, seed=1), leaf(3, 1, seed=2)
    a1 = ag.sigmoid(x @ w1)
    z2 = a1 @ w2
    delta3 = z2.retain_grad()  # retain_grad returns the tensor itself
    loss = (z2 ** 2).sum() / 2
    loss.backward()
    assert a1.grad is None and loss.grad is None
    np.testing.assert_allclose(delta3.grad, z2.data)  # d(z^2 / 2)/dz = z
    np.testing.assert_allclose(w2.grad, a1.data.T @ z2.data)
    assert x.grad.shape == (5, 4) and w1.grad.shape == (4, 3)


def test_tensors_that_do_not_require_grad_get_no_grad():
    x, c = leaf(3), Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


# -- no reference cycles ---------------------------------------------------------------------------------
def test_a_graph_is_freed_by_reference_counting_alone(no_gc):
    x = leaf(3, 3)
    hidden = ag.tanh(x @ x) + 1
    ref = weakref.ref(hidden)
    out = (hidden.softmax(axis=0) * hidden[0]).sum()
    del hidden
    assert ref() is not None  # out's graph holds it
    del out
    assert ref() is None


def test_graphs_of_gradients_are_freed_by_reference_counting_alone(no_gc):
    x = leaf(3)
    y = (x.exp() * x).sum()
    (gx,) = ag.grad(y, x, create_graph=True)
    ref_y, ref_g = weakref.ref(y), weakref.ref(gx)
    (hv,) = ag.grad((gx * gx).sum(), x)
    del y, gx
    assert ref_y() is None and ref_g() is None
    assert hv.shape == (3,)


def test_a_deep_graph_is_freed_without_backward():
    # Dropping a long unreleased chain must not overflow the C stack (CPython's trashcan handles it).
    x = leaf(1)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    ref = weakref.ref(y)
    del y
    assert ref() is None


@pytest.mark.slow
def test_deep_chain_of_a_million_ops_goes_backward_at_the_default_recursion_limit():
    # SLOW: about 5-10 s and 0.5 GB for one million cheap ops (x * 1.0 on shape (1,)).
    # A recursive topological sort would overflow at depth ~1,000.
    assert 800 <= __import__('sys').getrecursionlimit() <= 10_000
    x = leaf(1)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    (y * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_backward_visits_each_node_once_after_all_its_consumers():
    # hooks run as a node's gradient is complete: every node must come after the nodes that use it
    x, c = leaf(2), Tensor(np.ones(2))
    a = x * c
    b = a.exp()
    out = (a + b).sum()
    visits = []
    for name, t in (('x', x), ('a', a), ('b', b), ('out', out)):
        t.register_hook(lambda g, name=name: visits.append(name))
    out.backward()
    assert visits == ['out', 'b', 'a', 'x']
    np.testing.assert_allclose(x.grad, 1 + np.exp(x.data))  # a's gradient has both paths


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 10 ** 6), st.sampled_from('+*ts')),
                min_size=1, max_size=25), st.integers(1, 3))
def test_random_graphs_get_the_gradient_of_every_path_in_a_valid_order(steps, n_leaves):
    # Each step combines two earlier values (chosen at random: chains, diamonds, values used
    # many times, inputs of very different ages), so the backward pass's order is exercised
    # far beyond a chain. Gradients against central differences; order against the hooks.
    leaves = [leaf(3, seed=i) for i in range(n_leaves)]

    def build(values):
        values = list(values)
        for a, b, kind in steps:
            x, y = values[a % len(values)], values[b % len(values)]
            values.append({'+': lambda: x + y, '*': lambda: x * y * 0.5,
                           't': lambda: ag.tanh(x - y), 's': lambda: ag.sigmoid(x) * y}[kind]())
        return values

    values = build(leaves)
    visited = []
    # one leaf takes the visit a hook asks for; the others get their gradient straight into .grad
    hooked = [0] + list(range(n_leaves, len(values)))
    for i in hooked:
        values[i].register_hook(lambda g, i=i: visited.append(i))
    values[-1].sum().backward()
    position = {i: k for k, i in enumerate(visited)}
    for i, v in enumerate(values[n_leaves:], start=n_leaves):  # every node before its inputs
        for x in v._inputs or ():
            j = next((j for j, w in enumerate(values) if w is x), None)
            if i in position and j in position:
                assert position[i] < position[j]
    assert len(visited) == len(set(visited))
    numeric = ag.numerical_grad(lambda *xs: build(xs)[-1].sum(), [Tensor(l.data) for l in leaves])
    for l, expected in zip(leaves, numeric):
        np.testing.assert_allclose(l.grad if l.grad is not None else 0.0, expected, rtol=1e-6, atol=1e-8)


# -- grad mode -------------------------------------------------------------------------------------------------
def test_no_graph_is_recorded_when_no_input_requires_grad():
    y = ag.exp(Tensor([1.0, 2.0])) @ Tensor([1.0, 1.0])
    assert not y.requires_grad and y.is_leaf and y.op_name is None


def test_no_grad_as_a_context_manager_and_nested():
    x = leaf(2)
    assert ag.is_grad_enabled()
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * 2
        with ag.enable_grad():
            z = x * 2
            with ag.no_grad():
                assert not (x * 2).requires_grad
            assert ag.is_grad_enabled()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and z.op_name == 'mul'


def test_no_grad_as_a_decorator_and_set_grad_enabled():
    x = leaf(2)

    @ag.no_grad()
    def update(t):
        assert not ag.is_grad_enabled()
        return t * 2
    assert not update(x).requires_grad
    assert update.__name__ == 'update'
    assert (x * 2).requires_grad
    with ag.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with ag.set_grad_enabled(True):
            assert (x * 2).requires_grad


def test_no_grad_restores_the_previous_state_on_exceptions():
    @ag.no_grad()
    def fails():
        raise KeyError('boom')
    with pytest.raises(KeyError):
        fails()
    assert ag.is_grad_enabled()
    with pytest.raises(ValueError):
        with ag.no_grad():
            with ag.enable_grad():
                raise ValueError
    assert ag.is_grad_enabled()
    with ag.no_grad():
        with pytest.raises(ZeroDivisionError):
            with ag.enable_grad():
                1 / 0
        assert not ag.is_grad_enabled()


def test_one_no_grad_instance_can_be_entered_twice():
    quiet = ag.no_grad()
    with quiet:
        with ag.enable_grad():
            with quiet:
                assert not ag.is_grad_enabled()
            assert ag.is_grad_enabled()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_no_grad_is_per_thread():
    x = leaf(2)
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        inside.wait(5)  # main thread is inside no_grad now
        seen['enabled'] = ag.is_grad_enabled()
        seen['records'] = (x * 2).requires_grad
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with ag.no_grad():
        inside.set()
        done.wait(5)
        assert not ag.is_grad_enabled()
    worker.join(5)
    assert seen == {'enabled': True, 'records': True}
    assert ag.is_grad_enabled()

    # A thread in no_grad does not switch recording off in the main thread.
    started, release = threading.Event(), threading.Event()

    def quiet_thread():
        with ag.no_grad():
            started.set()
            release.wait(5)
    worker = threading.Thread(target=quiet_thread)
    worker.start()
    started.wait(5)
    try:
        assert (x * 2).requires_grad
    finally:
        release.set()
        worker.join(5)


# -- the short entry points of one- and two-input ops --------------------------------------------------------
@pytest.mark.parametrize('other', [
    [1.0, 2.0, 3.0],                 # a list: converted to float64, as Tensor() would
    np.int32(2),                     # a NumPy scalar type the short path does not take
    np.array([1, 2, 3]),             # an integer array: a constant, promoted by NumPy
    2.5, True, np.float64(2.0),
])
def test_binary_ops_take_every_kind_of_operand_on_either_side(other):
    x = leaf(3)
    expected = x.data * np.asarray(other, dtype=np.float64 if isinstance(other, list) else None)
    for out in (x * other, other * x, ag.ops.mul(x, other), ag.ops.mul(other, x)):
        np.testing.assert_array_equal(out.data, expected)
        assert out.op_name == 'mul' and out.requires_grad
    (x * other).sum().backward()
    np.testing.assert_array_equal(x.grad, np.broadcast_to(np.asarray(other, dtype=np.float64), (3,)))


def test_ops_on_subclasses_and_plain_values_record_as_on_tensors():
    p = ag.nn.Parameter(np.array([0.5, -1.0]))  # a Tensor subclass
    out = ag.tanh(p) + p
    assert out.op_name == 'add' and out._inputs[0].op_name == 'tanh' and out._inputs[1] is p
    out.sum().backward()
    np.testing.assert_allclose(p.grad, 1 - np.tanh(p.data) ** 2 + 1)
    plain = ag.tanh([0.5, 1.0])  # no Tensor at all: a result without a graph
    assert isinstance(plain, Tensor) and not plain.requires_grad and plain.op_name is None
    with pytest.raises(TypeError, match="tanh: expected a Tensor, number or array, got str 'a'"):
        ag.tanh('a')
    with pytest.raises(TypeError, match="mul: expected a Tensor, number or array, got NoneType None"):
        p * None


def test_ops_that_never_broadcast_still_get_gradients_of_their_input_shapes():
    x, w = leaf(5, 3), leaf(3)  # matmul of a matrix and a vector: its rules reshape themselves
    y = ag.tanh(x @ w)
    assert not ag.ops.tanh.broadcasts and not ag.ops.matmul.broadcasts and ag.ops.add.broadcasts
    y.sum().backward()
    assert x.grad.shape == (5, 3) and w.grad.shape == (3,)
    assert ag.gradcheck(lambda x, w: ag.tanh(x @ w), [x, w])


def test_modules_record_their_scope_only_while_recording():
    class Half(ag.nn.Module):
        def forward(self, x):
            with ag.no_grad():
                frozen = x * 2.0  # no graph inside no_grad, in a module as anywhere
            return x * 0.5, frozen

    half = Half()
    x = leaf(2)
    out, frozen = half(x)
    assert out._scope == (half,) and frozen._op is None and frozen._scope is None
    assert ag.engine._mode.scope is None and ag.engine._mode.recording is None
    with ag.no_grad():
        out, _ = half(x)
        assert ag.engine._mode.recording is False
    assert out._op is None and ag.engine._mode.recording is None


# -- no work for inputs that need no gradient ------------------------------------------------------------------
def test_rules_are_not_called_for_inputs_that_do_not_require_grad():
    calls = []

    def rule_x(g, ans, x, y):
        calls.append('x')
        return g * y

    def rule_y(g, ans, x, y):
        raise AssertionError('the gradient of an input that needs none was computed')

    mul = ag.Primitive('mul_counted', np.multiply, (rule_x, rule_y))
    x, y = leaf(3), Tensor(random_array(1, (3,)))
    out = mul(x, y)
    assert out.op_name == 'mul_counted'
    out.sum().backward()
    assert calls == ['x']
    np.testing.assert_array_equal(x.grad, y.data)


def test_ops_on_constants_in_a_graph_are_not_differentiated():
    x = leaf(2)
    w = Tensor(np.ones((2, 2)))
    hidden = ag.exp(w)  # no graph: w needs no grad
    assert hidden.is_leaf
    (x @ hidden).sum().backward()
    np.testing.assert_allclose(x.grad, np.e * 2 * np.ones(2))


def test_detach_stops_gradients():
    x = leaf(3)
    y = x.exp()
    (y.detach() * y).sum().backward()  # d/dx (c * e^x) with c fixed = c * e^x
    np.testing.assert_allclose(x.grad, np.exp(x.data) ** 2)


# -- hooks -----------------------------------------------------------------------------------------------------
def test_hooks_see_the_gradient_and_can_replace_it():
    x = leaf(3)
    hidden = x * 2
    seen = []
    hidden.register_hook(lambda g: seen.append(np.array(g)))
    handle = hidden.register_hook(lambda g: g * 10)
    (hidden * 3).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [60.0, 60.0, 60.0])  # the replacement flowed on
    handle.remove()
    handle.remove()  # removing twice is harmless
    x.zero_grad()
    (hidden * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0, 6.0])
    assert len(seen) == 2


def test_hooks_on_leaves_run_before_accumulation():
    x = leaf(2)
    x.register_hook(lambda g: g + 1)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_a_hooked_leaf_used_several_times_sees_its_whole_gradient_once():
    # leaves without hooks take each contribution straight into .grad; a hooked leaf is
    # visited once, with the sum of all its contributions
    x, y = leaf(2), leaf(2, seed=1)
    seen = []
    x.register_hook(seen.append)
    (x * 2 + x * 3 + y * 4 + y * 5 + x * y).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 5 + y.data)
    np.testing.assert_allclose(x.grad, 5 + y.data)
    np.testing.assert_allclose(y.grad, 9 + x.data)


def test_register_hook_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match='does not require grad'):
        Tensor([1.0]).register_hook(print)


# -- ag.grad ------------------------------------------------------------------------------------------------------
def test_grad_returns_a_tuple_and_leaves_dot_grad_alone():
    x, y = leaf(3), leaf(3, seed=1)
    out = (x * y).sum()
    gx, gy = ag.grad(out, [x, y])
    assert isinstance(gx, Tensor) and not gx.requires_grad
    np.testing.assert_array_equal(gx.data, y.data)
    np.testing.assert_array_equal(gy.data, x.data)
    assert x.grad is None and y.grad is None
    single = ag.grad((x * 2).sum(), x)
    assert isinstance(single, tuple) and len(single) == 1


def test_grad_with_grad_outputs_and_several_outputs():
    x = leaf(3)
    a, b = x * 2, x ** 2
    (gx,) = ag.grad([a, b], [x], grad_outputs=[np.ones(3), np.full(3, 0.5)])
    np.testing.assert_allclose(gx.data, 2 + x.data)
    with pytest.raises(ValueError, match='2 outputs but 1 grad_outputs'):
        ag.grad([a, b], x, grad_outputs=[np.ones(3)])


def test_grad_results_never_share_memory_with_the_callers_arrays_or_the_graph():
    # ag.grad keeps a computed gradient without copying it only when nothing else holds it:
    # add's rule passes the upstream gradient on as it is, so the result must be a copy of
    # the caller's grad_outputs; a second mention of an input gets its gradient too
    x, other = leaf(3), leaf(3, seed=1)
    v = np.array([1.0, 2.0, 3.0])
    (gx,) = ag.grad(x + other, x, grad_outputs=v)
    assert not np.shares_memory(gx.data, v)
    v[:] = 0
    np.testing.assert_array_equal(gx.data, [1.0, 2.0, 3.0])
    ga, gb = ag.grad((x * 3.0).sum(), [x, x])
    np.testing.assert_array_equal(ga.data, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(gb.data, [3.0, 3.0, 3.0])


def test_grad_leaves_every_other_leaf_alone_and_sums_over_uses():
    # leaves that grad() does not ask for get nothing (no .grad, no hook call: PyTorch's
    # autograd.grad does not run them either); one asked for and used twice gets the sum
    x, w = leaf(3), leaf(3, seed=1)
    seen = []
    w.register_hook(lambda g: seen.append(g))
    (gx,) = ag.grad((x * w + x * x).sum(), x)
    np.testing.assert_allclose(gx.data, w.data + 2 * x.data)
    assert w.grad is None and x.grad is None
    assert seen == []


def test_grad_allow_unused():
    x, unused = leaf(2), leaf(2, seed=1)
    with pytest.raises(RuntimeError, match='allow_unused=True'):
        ag.grad((x * 2).sum(), [x, unused])
    gx, gu = ag.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])


def test_grad_needs_inputs_that_require_grad():
    with pytest.raises(ValueError, match='requires grad'):
        ag.grad((leaf(2) * 2).sum(), Tensor([1.0, 2.0]))


def test_grad_with_respect_to_intermediates():
    x = leaf(2, 3)
    hidden = x @ np.ones((3, 4))
    out = ag.tanh(hidden).sum()
    g_hidden, g_x = ag.grad(out, [hidden, x])
    np.testing.assert_allclose(g_hidden.data, 1 - np.tanh(hidden.data) ** 2)
    np.testing.assert_allclose(g_x.data, g_hidden.data @ np.ones((4, 3)))
    assert hidden.grad is None


def test_grad_releases_the_graph_unless_asked():
    x = leaf(2)
    out = (x.exp()).sum()
    ag.grad(out, x, retain_graph=True)
    ag.grad(out, x)
    with pytest.raises(RuntimeError, match='retain_graph=True'):
        ag.grad(out, x)


def test_second_derivative_with_create_graph():
    x = leaf(4)
    y = (x ** 3).sum()
    (g,) = ag.grad(y, x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    (h,) = ag.grad(g.sum(), x, retain_graph=True)
    np.testing.assert_allclose(h.data, 6 * x.data)
    g.sum().backward()  # the gradient graph also works with backward, into .grad
    np.testing.assert_allclose(x.grad, 6 * x.data)


def test_hessian_vector_product_and_third_derivative():
    x, v = leaf(3), random_array(5, (3,))
    f = lambda x: (ag.sigmoid(x) * x.exp()).sum() + (x.sum()) ** 2  # noqa: E731
    (g,) = ag.grad(f(x), x, create_graph=True)
    (hv,) = ag.grad(g, x, grad_outputs=v, create_graph=True)
    # Against central differences of the gradient: H v = d/dx <grad f, v>.
    (numeric,) = ag.numerical_grad(lambda t: ag.grad(f(t), t)[0], x, grad_output=v)
    np.testing.assert_allclose(hv.data, numeric, rtol=1e-6, atol=1e-8)
    (third,) = ag.grad(hv.sum(), x)
    (numeric3,) = ag.numerical_grad(lambda t: ag.grad(ag.grad(f(t), t, create_graph=True)[0], t,
                                                      grad_outputs=v)[0], x, grad_output=np.ones(3))
    np.testing.assert_allclose(third.data, numeric3, rtol=1e-5, atol=1e-7)


def test_retain_grad_and_create_graph_keep_plain_arrays_in_dot_grad():
    x = leaf(2)
    hidden = (x * x).retain_grad()
    out = hidden.sum() * 3
    (g,) = ag.grad(out, x, create_graph=True)
    out.backward()
    assert isinstance(hidden.grad, np.ndarray)
    np.testing.assert_array_equal(hidden.grad, [3.0, 3.0])


def test_grad_outputs_that_require_grad_stay_differentiable_with_create_graph():
    # The double-vjp trick: <J^T v, u> is linear in v, so its gradient in v is J u (a
    # Jacobian-vector product). It needs the graph through grad_outputs.
    x, u = leaf(3), random_array(2, (3,))
    v = Tensor(np.ones(2), requires_grad=True)
    w = random_array(3, (3, 2))
    y = ag.tanh(x @ w)  # (2,)
    (vjp,) = ag.grad(y, x, grad_outputs=v, create_graph=True)
    assert vjp.requires_grad
    (jvp,) = ag.grad((vjp * u).sum(), v)
    jacobian = (1 - np.tanh(x.data @ w) ** 2)[:, None] * w.T  # (2, 3)
    np.testing.assert_allclose(jvp.data, jacobian @ u)


# -- the docs describe this code --------------------------------------------------------------------------------
DOCS = __import__('pathlib').Path(__file__).resolve().parent.parent / 'docs'


def test_the_examples_in_docs_engine_md_print_what_the_code_prints():
    import doctest
    result = doctest.testfile(str(DOCS / 'engine.md'), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 10 and result.failed == 0


def test_every_public_name_is_in_docs_api_md():
    import re
    text = (DOCS / 'api.md').read_text()
    missing = [name for name in ag.__all__ if not re.search(rf"`{re.escape(name)}[`(]", text)]
    assert not missing, f"add these names of autograd_lite.__all__ to docs/api.md: {missing}"


def test_set_op_observer_returns_the_observer_it_replaces_and_observers_see_inputs_and_static():
    from autograd_lite import engine
    seen = []
    previous = engine.set_op_observer(lambda op, inputs, arrays, static, out: seen.append((op.name, inputs, static)))
    try:
        x = leaf(2, 3)
        s = ag.sum(x, 1)
        y = x * 2.0
    finally:
        assert engine.set_op_observer(previous) is not None
    assert previous is None
    assert seen[0][0] == 'sum' and seen[0][1] == (x,) and seen[0][2] == {'axis': 1, 'keepdims': False}
    assert seen[1][0] == 'mul' and seen[1][1][0] is x and seen[1][1][1] == 2.0 and seen[1][2] is None
    assert s.shape == (2,) and y.shape == (2, 3)


# -- the short call of two inputs with static arguments (the losses) --------------------------
def _made_by(call, fresh):
    """What ``call`` makes on fresh inputs: the node's fields, its hold and the gradients."""
    x, y = fresh()
    t = call(x, y)
    fields = (t.data.tolist(), t._op, t._requires_grad, t._static, t._scope,
              [i is j for i, j in zip(t._inputs or (), (x, y))],
              [a is (v.data if isinstance(v, Tensor) else v) for a, v in zip(t._input_arrays or (), (x, y))],
              [(h[0] is x, h[0] is y) for h in (t._guarded.held if t._guarded else ())],
              getattr(t, '_saved', None) is not None)
    grads = None
    if t._requires_grad:
        t.sum().backward()
        grads = [v.grad.tolist() if isinstance(v, Tensor) and v.grad is not None else None for v in (x, y)]
    return fields, grads


@pytest.mark.parametrize('loss', ['mse_loss', 'cross_entropy'])
@pytest.mark.parametrize('target', ['a Tensor', 'a Tensor that requires grad', 'an array'])
@pytest.mark.parametrize('grad_mode', ['on', 'off'])
def test_the_short_call_of_the_losses_makes_what_the_general_call_makes(loss, target, grad_mode):
    from autograd_lite import engine
    from autograd_lite.nn import functional as F
    op = F._mse if loss == 'mse_loss' else F._cross_entropy
    assert type(op) is engine._BinaryStatic

    def fresh():
        x = Tensor(random_array(1, (4, 3)), requires_grad=True)
        y = random_array(2, (4, 3)) if loss == 'mse_loss' else np.array([0, 2, 1, 1])
        if target != 'an array':
            y = Tensor(y, requires_grad=target.endswith('grad') and loss == 'mse_loss')
        return x, y
    with ag.set_grad_enabled(grad_mode == 'on'):
        short = _made_by(lambda x, y: op(x, y, 'sum'), fresh)
        general = _made_by(lambda x, y: engine.Primitive.__call__(op, x, y, 'sum'), fresh)
    assert short == general
    assert short[0][2] == (grad_mode == 'on')


def test_the_losses_short_call_leaves_other_arguments_to_the_general_call():
    from autograd_lite.nn import functional as F
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    assert F._mse(x, np.zeros((2, 2)), reduction='sum').item() == 4.0  # by name
    assert F._mse(x, [[0.0, 0.0], [0.0, 0.0]], 'sum').item() == 4.0    # a list: converted
    assert F._mse(x, 1.0, 'sum').item() == 0.0                         # a number
    assert F._mse(x, np.zeros((2, 2))).item() == 1.0                   # the default
    with pytest.raises(TypeError, match="mse_loss"):
        F._mse(np.ones((2, 2)), x, 'sum', 'extra')
