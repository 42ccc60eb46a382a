"""The 4-8-3 iris network the answer recommends: softmax output, cross-entropy, and a
stratified shuffled split with 30 test rows (10 of each species).

Same seed, same split, same weights, same accuracy. Run: python examples/iris_softmax.py [--seed 0]
"""
import argparse

import autograd_lite as ag
from autograd_lite.demo.training import accuracy, load_split, one_blas_thread, train

GOAL = 0.93


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the 4-8-3 softmax iris network.")
    parser.add_argument('--seed', type=int, default=0, help="seed of the split, the weights and the batch order")
    seed = parser.parse_args(argv).seed

    # train_test_split(X, y, test_size=30, stratify=y, shuffle=True, random_state=seed), then
    # StandardScaler fitted on the 120 training rows only.
    data = load_split('iris', seed=seed)
    model = ag.nn.MLP([4, 8, 3], activation='sigmoid', seed=seed)   # (N, 4) -> (N, 3) raw scores
    optimizer = ag.optim.Adam(model.parameters(), lr=0.02)
    with one_blas_thread():
        # Full batch, 200 steps; the loss is cross_entropy(scores, labels): softmax is inside it.
        history = train(model, data.X_train, data.y_train, optimizer, epochs=200, output='softmax', seed=seed)
    test_accuracy = accuracy(model, data.X_test, data.y_test)
    print(f"seed {seed}: final training loss {history[-1].loss:.4f}, "
          f"training accuracy {history[-1].train_accuracy:.3f}, test accuracy {test_accuracy:.3f} "
          f"({round(test_accuracy * len(data.y_test))}/{len(data.y_test)})")
    if test_accuracy < GOAL:
        print(f"below the goal of {GOAL} for this seed: 30 test rows are few (one flower is 3.3%)")
    return test_accuracy


if __name__ == '__main__':
    raise SystemExit(0 if main() >= GOAL else 1)
