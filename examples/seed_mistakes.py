"""The mistakes of the question's hand-written iris backprop, what autograd_lite says about each, and the fix.

1. Column-vector shapes that do not line up: a1.dot(delta3) with (8, 1) and (3, 1);
   x.T.dot(delta2) with (1, 4) and (8, 8).
2. The sigmoid's derivative applied where the sigmoid belonged: y_hat = sigmoid(z2, deriv=True).
3. A sigmoid output, one unit, for three one-hot classes.
4. A test set of the last 20 rows: all one class (no shuffle, no stratification).
5. delta3 = (y - y_hat) * ...: minus the gradient of 0.5 * sum((y_hat - y)**2).

Every claim printed here is also asserted. Run: python examples/seed_mistakes.py
"""
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import autograd_lite as ag


def sigmoid(z, deriv=False):
    """The question's helper: the derivative when deriv=True (the trap of mistake 2)."""
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s) if deriv else s


def heading(number, title):
    print(f"\n== {number}. {title} " + '=' * max(0, 70 - len(title)))


def caught(fn):
    """The error message fn raises (asserting that it raises one)."""
    try:
        fn()
    except (ag.ShapeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected an error")


def mistake_1_shapes(X, W1, W2):
    heading(1, "column-vector shapes that do not line up")
    # The question worked one flower at a time, as columns; with three one-hot outputs W2 was (8, 3).
    x = ag.Tensor(X[0].reshape(4, 1))                      # (4, 1) one flower
    a1 = ag.sigmoid(ag.Tensor(W1).T @ x)                   # (8, 4) @ (4, 1) -> (8, 1)
    delta3 = ag.Tensor(np.ones((3, 1)))                    # (3, 1) output error, three classes
    message = caught(lambda: a1.dot(delta3))
    print("a1.dot(delta3), a1 (8, 1) and delta3 (3, 1):\n  " + message.replace('\n', '\n  '))
    assert 'shapes (8, 1) and (3, 1) are not aligned' in message and '(8, 3)' in message
    # delta2 became (8, 8): a column (8, 1) times a row (1, 8) broadcasts to a matrix, silently.
    w2 = ag.Tensor(np.ones((8, 3)))
    with ag.strict_broadcasting():
        message = caught(lambda: (w2 @ delta3) * (a1 * (1 - a1)).T)
    print("delta2 = W2.dot(delta3) * sigmoid'(...).T, under ag.strict_broadcasting():\n  "
          + message.replace('\n', '\n  '))
    assert 'broadcast to (8, 8)' in message
    delta2 = ag.Tensor(np.ones((8, 8)))                    # what the question's code computed
    message = caught(lambda: x.T.dot(delta2))
    print("x.T.dot(delta2), x.T (1, 4) and delta2 (8, 8):\n  " + message.replace('\n', '\n  '))
    assert 'shapes (1, 4) and (8, 8) are not aligned' in message
    print("fix: keep the batch on the first axis, one row per flower: X (N, 4), a1 (N, 8), delta3 (N, 1),\n"
          "     dJdW2 = a1.T @ delta3 -> (8, 1), delta2 = delta3 @ W2.T * a1 * (1 - a1) -> (N, 8),\n"
          "     dJdW1 = X.T @ delta2 -> (4, 8): each gradient has its weight's shape "
          "(examples/iris_seed.py)")


def network(X, y, W1, W2, wrong_forward=False, wrong_sign=False):
    """Hand-derived (loss, {'W1', 'W2'}) of the 4-8-1 sigmoid network, optionally with a mistake."""
    a1 = sigmoid(X @ W1)                                   # (N, 8)
    y_hat = sigmoid(a1 @ W2, deriv=wrong_forward)          # (N, 1)
    error = (y - y_hat) if wrong_sign else (y_hat - y)     # (N, 1)
    delta3 = error * y_hat * (1 - y_hat)                   # (N, 1)
    delta2 = delta3 @ W2.T * a1 * (1 - a1)                 # (N, 8)
    return y_hat, {'W1': X.T @ delta2, 'W2': a1.T @ delta3}


def autograd_gradients(X, y, W1, W2):
    W1_t, W2_t = ag.Tensor(W1, requires_grad=True), ag.Tensor(W2, requires_grad=True)
    loss = 0.5 * ((ag.sigmoid(ag.sigmoid(X @ W1_t) @ W2_t) - y) ** 2).sum()
    loss.backward()
    return {'W1': W1_t.grad, 'W2': W2_t.grad}


def mistake_2_derivative_in_the_forward(X, y, W1, W2, auto):
    heading(2, "the sigmoid's derivative where the sigmoid belonged")
    y_hat, hand = network(X, y, W1, W2, wrong_forward=True)
    report = ag.compare_gradients(hand, auto)
    print("y_hat = sigmoid(z2, deriv=True), then the usual backprop; against autograd_lite:")
    print(report)
    assert report.verdicts == {'W1': 'wrong', 'W2': 'wrong'}
    print(f"and y_hat = s(z)(1 - s(z)) lies in (0, 0.25]: here its largest value is {y_hat.max():.3f}, "
          "so it can never reach a target of 1")
    assert y_hat.max() <= 0.25
    print("fix: y_hat = sigmoid(z2) in the forward; sigmoid'(z2) = y_hat * (1 - y_hat) appears only in delta3")


def mistake_3_sigmoid_for_three_classes(X, labels):
    heading(3, "one sigmoid output for three one-hot classes")
    Y = ag.nn.functional.one_hot(labels, 3)                          # (N, 3)
    y_hat = ag.nn.MLP([4, 8, 1], output='sigmoid', bias=False, seed=0)(ag.Tensor(X))   # (N, 1)
    message = caught(lambda: ag.nn.functional.mse_loss(y_hat, Y))
    print(f"a 4-8-1 network's y_hat {y_hat.shape} against one-hot targets {Y.shape}:\n  {message}")
    assert f'{y_hat.shape}' in message and f'{Y.shape}' in message
    scores = ag.nn.MLP([4, 8, 3], output='sigmoid', seed=0)(ag.Tensor(X))
    sums = scores.data.sum(axis=1)
    print(f"and three sigmoid units are three separate yes/no answers: their sums per flower range from "
          f"{sums.min():.2f} to {sums.max():.2f}, not 1")
    assert not np.allclose(sums, 1)
    print("fix: 4-8-3 with softmax (probabilities that sum to 1) and cross-entropy on integer labels: "
          "ag.nn.functional.cross_entropy(scores, labels) (examples/iris_softmax.py)")


def mistake_4_last_rows_as_test_set(labels):
    heading(4, "the last 20 rows as the test set")
    last = np.bincount(labels[-20:], minlength=3)
    print(f"classes in the last 20 rows (setosa, versicolor, virginica): {last.tolist()}: "
          "load_iris is sorted by class, so a network that always answers 'virginica' scores 100%")
    assert last.tolist() == [0, 0, 20]
    _, _, _, y_test = train_test_split(np.zeros((len(labels), 1)), labels, test_size=30, stratify=labels,
                                       random_state=0)
    stratified = np.bincount(y_test, minlength=3)
    print(f"fix: train_test_split(X, y, test_size=30, stratify=y, random_state=seed) shuffles and keeps "
          f"the proportions: {stratified.tolist()}")
    assert stratified.tolist() == [10, 10, 10]


def mistake_5_flipped_sign(X, y, W1, W2, auto):
    heading(5, "delta3 = (y - y_hat) * ...")
    _, hand = network(X, y, W1, W2, wrong_sign=True)
    report = ag.compare_gradients(hand, auto)
    print(report)
    assert report.verdicts == {'W1': 'sign', 'W2': 'sign'}
    print("so the usual step W -= lr * dJdW climbs the loss (only W += lr * dJdW descends, and then\n"
          "dJdW is not dJ/dW). fix: delta3 = (y_hat - y) * y_hat * (1 - y_hat), the derivative of\n"
          "0.5 * sum((y_hat - y)**2), with W -= lr * dJdW")
    _, right = network(X, y, W1, W2)
    assert ag.compare_gradients(right, auto).ok


def main():
    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data)            # (150, 4)
    labels = iris.target                                     # (150,) 0, 1, 2
    y = (labels == 0).astype(float).reshape(-1, 1)           # (150, 1) setosa or not
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((4, 8)), rng.standard_normal((8, 1))
    auto = autograd_gradients(X, y, W1, W2)
    mistake_1_shapes(X, W1, W2)
    mistake_2_derivative_in_the_forward(X, y, W1, W2, auto)
    mistake_3_sigmoid_for_three_classes(X, labels)
    mistake_4_last_rows_as_test_set(labels)
    mistake_5_flipped_sign(X, y, W1, W2, auto)


if __name__ == '__main__':
    main()
