"""scikit-learn's 8x8 digits with a 64-128-10 ReLU network, trained by minibatch Adam.

1797 images, 20% held out (stratified); about 0.97 test accuracy in well under a second
of training. Run: python examples/digits_mlp.py [--seed 0]
"""
import argparse

import autograd_lite as ag
from autograd_lite.demo.training import accuracy, load_split, one_blas_thread, train

GOAL = 0.95


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train a 64-128-10 ReLU network on load_digits.")
    parser.add_argument('--seed', type=int, default=0, help="seed of the split, the weights and the batch order")
    seed = parser.parse_args(argv).seed

    data = load_split('digits', seed=seed)                          # X (1437, 64) standardised, y (1437,)
    model = ag.nn.MLP([64, 128, 10], activation='relu', seed=seed)  # He initialisation for ReLU
    optimizer = ag.optim.Adam(model.parameters(), lr=3e-3)

    def progress(e):
        print(f"epoch {e.epoch:2d}  loss {e.loss:.4f}  train accuracy {e.train_accuracy:.3f}")

    with one_blas_thread():
        train(model, data.X_train, data.y_train, optimizer, epochs=15, output='softmax', batch_size=64,
              seed=seed, callback=progress)
    test_accuracy = accuracy(model, data.X_test, data.y_test)
    print(f"test accuracy {test_accuracy:.3f} on {len(data.y_test)} held-out digits")
    return test_accuracy


if __name__ == '__main__':
    raise SystemExit(0 if main() >= GOAL else 1)
