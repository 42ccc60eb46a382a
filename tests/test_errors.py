"""Shape errors name the user's file and line and, when one fix is obvious, say it."""
import inspect
import os
import types

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import debug, errors

HERE = os.path.basename(__file__)


def next_line():
    """The line number just after the caller's line: where the op under test is called."""
    return inspect.currentframe().f_back.f_lineno + 1


def T(*shape):
    return ag.Tensor(np.ones(shape), requires_grad=True)


def raised(fn):
    with pytest.raises(ag.ShapeError) as info:
        fn()
    return str(info.value)


# -- location ------------------------------------------------------------------------------------------
def test_a_shape_error_keeps_its_core_message_and_names_the_users_file_and_line():
    x, delta2 = T(1, 4), T(8, 8)
    with pytest.raises(ag.ShapeError) as info:
        line = next_line()
        z = x.T @ delta2  # noqa: F841
    first, where = str(info.value).splitlines()[:2]
    assert first == "matmul: shapes (4, 1) and (8, 8) are not aligned: inner dimensions 1 and 8 differ"
    assert where == f"  at {os.path.relpath(__file__)}:{line} in {inspect.currentframe().f_code.co_name}: " \
                    "z = x.T @ delta2  # noqa: F841"


def test_the_location_skips_every_frame_inside_the_package():
    # reshape goes through Tensor.reshape -> ops.reshape -> Primitive.__call__ -> op_error
    x = T(2, 3)
    line = next_line()
    message = raised(lambda: x.reshape(4, 2))
    assert message.startswith("reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4, 2)")
    assert f"{HERE}:{line} in <lambda>" in message
    assert "autograd_lite" + os.sep not in message


def test_broadcast_errors_name_the_location_too():
    a, b = T(3), T(4)
    line = next_line()
    message = raised(lambda: ag.maximum(a, b))
    assert message.startswith("maximum: shapes (3,) and (4,) cannot be broadcast together")
    assert f"{HERE}:{line}" in message


# -- matmul hints ---------------------------------------------------------------------------------------
def test_the_seeds_dot_mistake_gets_the_transpose_that_fits():
    a1, delta3 = T(8, 1), T(3, 1)
    message = raised(lambda: ag.matmul(a1, delta3))
    # (8,1) @ (3,1).T = (8,3) is the only rearrangement that fits: a1.T @ delta3 is (1,8)@(3,1)
    assert message.splitlines()[-1] == "  hint: did you mean a1 @ delta3.T (shape (8, 3))?"


def test_the_dot_method_spelling_is_parsed_too():
    class Operand:  # Tensor has no .dot; a wrapper that forwards to ag.matmul, as a user's code might
        def __init__(self, t):
            self.t = t

        def dot(self, other):
            return ag.matmul(self.t, other)
    a1, delta3 = T(8, 1), T(3, 1)
    frame_line = next_line()
    message = raised(lambda: Operand(a1).dot(delta3))
    # the user's frame is Operand.dot (outside the package), whose expression is ag.matmul(self.t, other)
    assert "hint: did you mean self.t @ other.T (shape (8, 3))?" in message
    assert f"{HERE}:{frame_line}" not in message and "in dot: return ag.matmul(self.t, other)" in message


def test_the_seeds_x_T_mistake_gets_no_hint_because_no_transpose_fits():
    x, delta2 = T(1, 4), T(8, 8)
    message = raised(lambda: x.T @ delta2)
    assert "hint" not in message and "did you mean" not in message


@pytest.mark.parametrize('a, b, product, hint', [
    ((4, 3), (4, 5), lambda x, w: x.T.T @ w, "did you mean x.T @ w (shape (3, 5))?"),  # untransposed
    ((3, 2), (3, 2), lambda a, b: a @ b, "did you mean a.T @ b (shape (2, 2)) or a @ b.T (shape (3, 3))?"),
    ((8, 1), (3, 1), lambda a, b: (a + 1) @ (b * 2), "did you mean (a + 1) @ (b * 2).T (shape (8, 3))?"),
    ((5, 3), (2, 5), lambda w, x: w @ x, "did you mean x @ w (shape (2, 3))?"),  # swapped
], ids=['untranspose', 'every fit listed', 'parenthesised', 'swap'])
def test_matmul_hints_use_the_expressions_as_written(a, b, product, hint):
    message = raised(lambda: product(T(*a), T(*b)))
    assert message.splitlines()[-1] == f"  hint: {hint}"


def test_without_the_users_names_the_hint_uses_generic_names():
    a1, delta3 = T(8, 1), T(3, 1)
    ops = [ag.matmul]
    message = raised(lambda: ops[0](a1, delta3))  # the call is not recognisably a matmul
    assert "hint: did you mean A @ B.T (shape (8, 3))? (A, B: the first and second operands)" in message


@pytest.mark.parametrize('shapes, names, expected', [
    (((8, 1), (3, 1)), ('a1', 'delta3'), "did you mean a1 @ delta3.T (shape (8, 3))?"),
    (((1, 8), (1, 3)), ('a', 'b'), "did you mean a.T @ b (shape (8, 3))?"),
    (((4, 1), (8, 8)), ('x.T', 'delta2'), None),
    (((3,), (4,)), ('u', 'v'), None),           # 1-D: transposing changes nothing
    (((2, 3, 4), (2, 3, 4)), ('a', 'b'), None),  # batches: .T would reverse every axis
])
def test_matmul_hint_only_suggests_what_really_fits(shapes, names, expected):
    hint = errors.matmul_hint(shapes, names)
    assert hint == expected
    if expected is not None:  # check the suggestion by running it
        a, b = np.ones(shapes[0]), np.ones(shapes[1])
        expr = expected[len("did you mean "):expected.index(" (shape")]
        assert eval(expr, {names[0]: a, names[1]: b}).shape == eval(expected[expected.index("(shape ") + 7:-2])


# -- broadcasting hints --------------------------------------------------------------------------------
def test_a_flat_vector_against_rows_is_told_to_become_a_column():
    bias, h = T(130), T(130, 3)
    message = raised(lambda: h + bias)
    assert message.startswith("add: shapes (130, 3) and (130,) cannot be broadcast together: "
                              "dimension -1 has sizes 3 and 130")
    assert message.splitlines()[-1] == ("  hint: did you mean bias.reshape(-1, 1)? As a (130, 1) column it "
                                        "lines up with the 130 rows of h (130, 3)")
    assert (h + bias.reshape(-1, 1)).shape == (130, 3)


def test_unrelated_broadcast_clashes_get_no_column_hint():
    message = raised(lambda: T(3, 4) * T(5))
    assert "hint" not in message


def test_three_clashing_operands_are_all_listed():
    message = raised(lambda: ag.where(np.ones(2, dtype=bool), T(3), np.ones(4)))
    assert message.startswith("where: shapes (2,) and (3,) and (4,) cannot be broadcast together: "
                              "dimension -1 has sizes 2, 3 and 4")


# -- reading the user's expression -----------------------------------------------------------------------
def _fake_frame(path, lineno):
    """A frame as Python 3.10 has it: no per-instruction source spans."""
    code = types.SimpleNamespace(co_filename=str(path))
    return types.SimpleNamespace(f_code=code, f_lineno=lineno, f_lasti=0)


def test_without_instruction_spans_an_unambiguous_line_still_gives_the_names(tmp_path):
    src = tmp_path / "user.py"
    src.write_text("grad_W2 = a1.dot(delta3)\nout = sigmoid(x @ W1) @ W2\n")
    assert debug.operand_texts(_fake_frame(src, 1), 'matmul') == ('a1', 'delta3')
    assert debug.operand_texts(_fake_frame(src, 2), 'matmul') is None  # two matmuls: which one?
    assert debug.operand_texts(_fake_frame(src, 1), 'add') is None


def test_a_multi_line_expression_is_found_from_its_span():
    a, b = T(8, 1), T(3, 1)
    with pytest.raises(ag.ShapeError) as info:
        (a
         @ b)
    assert "did you mean a @ b.T" in str(info.value)
