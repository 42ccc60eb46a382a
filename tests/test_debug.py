"""detect_anomaly, strict_broadcasting, register_hook, and the runnable examples of docs/debugging.md."""
import inspect
import os
import pathlib
import re
import runpy
import threading

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import debug, engine

HERE = os.path.basename(__file__)
DOCS = pathlib.Path(__file__).resolve().parent.parent / 'docs' / 'debugging.md'


def next_line():
    """The line number just after the caller's line."""
    return inspect.currentframe().f_back.f_lineno + 1


def modes_are_off():
    return not debug._state.anomaly and not debug._state.strict and engine._observer is None


# -- detect_anomaly --------------------------------------------------------------------------------------
def test_anomaly_names_the_op_its_shapes_and_the_line_that_made_a_nan_gradient():
    x = ag.Tensor([0.0, 1.0, 4.0], requires_grad=True)
    with ag.detect_anomaly():
        line = next_line()
        r = ag.sqrt(x)  # d sqrt / dx = 1 / (2 sqrt(x)) is infinite at x = 0
        loss = (r * 3).sum()
    assert debug.created_at(r) == debug.Location(__file__, line, inspect.currentframe().f_code.co_name)
    with pytest.raises(ag.AnomalyError) as info, np.errstate(divide='ignore'):
        loss.backward()
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert message.startswith("detect_anomaly: the gradient rule of 'sqrt' (input shapes (3,)) for input 0 "
                              "returned inf (1 of 3 elements)")
    assert f"the op was created at {os.path.relpath(__file__)}:{line} in " in message
    assert message.rstrip().endswith("r = ag.sqrt(x)  # d sqrt / dx = 1 / (2 sqrt(x)) is infinite at x = 0")


def test_without_anomaly_mode_the_same_backward_is_silent():
    x = ag.Tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide='ignore'):
        (ag.sqrt(x) * 3).sum().backward()
    assert np.isinf(x.grad[0])
    assert engine._observer is None  # the engine's single per-op test found nothing to do


def test_anomaly_catches_log_of_zero_feeding_a_sqrt_and_says_the_forward_was_already_bad():
    x = ag.Tensor([0.0, 2.0], requires_grad=True)
    with ag.detect_anomaly(), np.errstate(divide='ignore', invalid='ignore'):
        line = next_line()
        y = ag.sqrt(ag.log(x))  # log(0) = -inf, sqrt(-inf) = nan
        with pytest.raises(ag.AnomalyError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "gradient rule of 'sqrt'" in message and "returned NaN" in message
    assert "its forward output already had NaN/inf" in message
    assert f"{HERE}:{line} in " in message


def test_anomaly_reports_a_gradient_rule_that_raises_and_keeps_the_cause():
    def broken(g, ans, x):
        raise ValueError("shapes do not match in my rule")
    op = ag.Primitive('my_op', np.tanh, (broken,))
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with ag.detect_anomaly():
        line = next_line()
        y = op(x) * 2.0
    with pytest.raises(ag.AnomalyError) as info:
        y.sum().backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the gradient rule of 'my_op' (input shapes (2, 3)) for input 0 "
                              "raised ValueError: shapes do not match in my rule")
    assert f"{HERE}:{line} in " in message and message.rstrip().endswith("y = op(x) * 2.0")
    assert isinstance(info.value.__cause__, ValueError)
    y2 = op(x)  # outside the mode: the rule's own exception, untouched
    with pytest.raises(ValueError, match="^shapes do not match in my rule$"):
        y2.sum().backward()


def test_anomaly_checks_gradients_built_with_create_graph_too():
    x = ag.Tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly(), np.errstate(divide='ignore'):
        y = ag.sqrt(x).sum()
        with pytest.raises(ag.AnomalyError, match="'sqrt'"):
            ag.grad(y, x, create_graph=True)


def test_anomaly_mode_leaves_correct_gradients_and_names_unchanged():
    x = ag.Tensor(np.linspace(0.5, 2, 6).reshape(2, 3), requires_grad=True)
    with ag.detect_anomaly():
        y = ag.softmax(ag.tanh(x) @ np.ones((3, 3)), axis=1)
        assert y.op_name == 'softmax'
        assert ag.gradcheck(lambda x: ag.log_softmax(ag.tanh(x) * x, axis=1), x)
        ag.grad(y[:, 0].sum(), x)


def test_anomaly_mode_is_nestable_and_restores_on_exceptions():
    x = ag.Tensor([1.0], requires_grad=True)
    with pytest.raises(KeyError):
        with ag.detect_anomaly():
            with ag.detect_anomaly(False):
                assert debug.created_at(x * 2) is None
            assert debug.created_at(x * 2) is not None
            raise KeyError('boom')
    assert modes_are_off()
    assert debug.created_at(x * 2) is None


# -- strict broadcasting ---------------------------------------------------------------------------------
def test_strict_broadcasting_stops_a_flat_vector_meeting_a_column():
    y = ag.Tensor(np.ones(130))
    y_hat = ag.Tensor(np.ones((130, 1)), requires_grad=True)
    with ag.strict_broadcasting():
        with pytest.raises(ag.ShapeError) as info:
            line = next_line()
            loss = ((y_hat - y) ** 2).mean()  # noqa: F841
    first, where, hint = str(info.value).splitlines()
    assert first.startswith("sub: shapes (130, 1) and (130,) broadcast to (130, 130), larger than every operand")
    assert "Reshape one operand to match the other" in first
    assert where.startswith(f"  at {os.path.relpath(__file__)}:{line} in ")
    assert hint == ("  hint: y is a flat (130,) vector and y_hat a (130, 1) column: reshape one to match, "
                    "y.reshape(-1, 1) or y_hat.reshape(-1)")
    assert ((y_hat - y) ** 2).shape == (130, 130)  # outside the block: NumPy's silent broadcast


@pytest.mark.parametrize('a, b', [((3, 4), (4,)), ((3, 4), (1, 4)), ((3, 4), (3, 1)), ((3, 4), ()),
                                  ((2, 3, 4), (3, 4)), ((5,), (5,)), ((1,), (7,))], ids=str)
def test_strict_broadcasting_allows_broadcasting_up_to_an_operands_shape(a, b):
    x, y = ag.Tensor(np.ones(a), requires_grad=True), np.ones(b)
    with ag.strict_broadcasting():
        for out in (x + y, y * x, x - y, x / (y + 1), ag.maximum(x, y), x ** (y + 1)):
            assert out.shape == np.broadcast_shapes(a, b)
        assert 2.0 * x is not None


@pytest.mark.parametrize('a, b, result', [((130,), (130, 1), (130, 130)), ((3, 1), (1, 4), (3, 4)),
                                          ((2, 1, 3), (4, 1), (2, 4, 3))], ids=str)
def test_strict_broadcasting_rejects_results_larger_than_every_operand(a, b, result):
    x, y = ag.Tensor(np.ones(a)), ag.Tensor(np.ones(b))  # no grad needed: the forward is checked
    with ag.strict_broadcasting():
        with pytest.raises(ag.ShapeError, match=re.escape(f"mul: shapes {a} and {b} broadcast to {result}")):
            x * y
        with pytest.raises(ag.ShapeError, match=r"^where: shapes"):
            ag.where(np.ones(a, dtype=bool), x, y)
        ag.broadcast_to(x, result) * y  # an intended outer broadcast, made explicit


def test_strict_broadcasting_works_as_a_decorator_and_restores_on_exceptions():
    @ag.strict_broadcasting()
    def residual(y_hat, y):
        return y_hat - y
    with pytest.raises(ag.ShapeError):
        residual(ag.Tensor(np.ones((4, 1))), ag.Tensor(np.ones(4)))
    assert modes_are_off()
    assert residual(ag.Tensor(np.ones((4, 1))), ag.Tensor(np.ones((4, 1)))).shape == (4, 1)
    with ag.strict_broadcasting():
        with ag.strict_broadcasting(False):
            assert (ag.Tensor(np.ones(4)) - np.ones((4, 1))).shape == (4, 4)
        with pytest.raises(ag.ShapeError):
            ag.Tensor(np.ones(4)) - np.ones((4, 1))
    assert modes_are_off()


def test_both_modes_are_thread_local():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        with ag.detect_anomaly(), ag.strict_broadcasting():
            inside.set()
            release.wait(10)
            try:
                ag.Tensor(np.ones(3)) + np.ones((3, 1))
            except ag.ShapeError:
                seen['strict'] = True
            seen['anomaly'] = debug.created_at(ag.Tensor([1.0], requires_grad=True) * 2) is not None

    worker = threading.Thread(target=other_thread)
    worker.start()
    inside.wait(10)
    try:
        assert engine._observer is not None  # on for the process while the other thread is inside
        assert (ag.Tensor(np.ones(3)) + np.ones((3, 1))).shape == (3, 3)  # but this thread is not strict
        assert debug.created_at(ag.Tensor([1.0], requires_grad=True) * 2) is None
    finally:
        release.set()
        worker.join(10)
    assert seen == {'strict': True, 'anomaly': True}
    assert modes_are_off()


# -- register_hook -------------------------------------------------------------------------------------
def test_a_hook_sees_the_gradient_and_its_return_value_replaces_it():
    x = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))  # returns None: gradient unchanged
    handle = h.register_hook(lambda g: g * 10)
    (h * 2).sum().backward(retain_graph=True)
    np.testing.assert_allclose(seen[0], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(x.grad, 10 * 2 * 2 * x.data)
    handle.remove()
    x.zero_grad()
    (h * 2).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.data)
    assert len(seen) == 2


def test_a_hook_on_a_leaf_changes_its_grad_and_what_ag_grad_returns():
    w = ag.Tensor([1.0, -1.0], requires_grad=True)
    handle = w.register_hook(lambda g: np.clip(g, -0.5, 0.5))
    (w * 3).sum().backward()
    np.testing.assert_allclose(w.grad, [0.5, 0.5])
    (gw,) = ag.grad((w * 3).sum(), w)
    np.testing.assert_allclose(gw.data, [0.5, 0.5])
    handle.remove()
    handle.remove()  # a second remove is harmless
    (gw,) = ag.grad((w * 3).sum(), w)
    np.testing.assert_allclose(gw.data, [3.0, 3.0])


def test_register_hook_refuses_a_tensor_without_gradient():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.Tensor([1.0]).register_hook(print)


# -- the guide's examples run as written ---------------------------------------------------------------------
def _python_blocks():
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_the_debugging_guide_has_an_example_per_symptom():
    text = DOCS.read_text()
    for symptom in ("shape error", "wrong gradient", "NaN", "loss does not fall", "silent broadcasting"):
        assert re.search(rf"^## .*{re.escape(symptom)}", text, flags=re.M | re.I), symptom
    assert len(_python_blocks()) >= 5


@pytest.mark.parametrize('index', range(len(_python_blocks())))
def test_the_debugging_guides_examples_run(index, tmp_path, capsys):
    # Written to a file, so that errors can read the example's source lines as they would a user's.
    path = tmp_path / f"example_{index}.py"
    path.write_text(_python_blocks()[index])
    runpy.run_path(str(path), run_name='__main__')
    assert modes_are_off()
