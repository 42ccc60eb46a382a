"""Regenerate the iris graph pictures and listing under docs/images/.

    python docs/make_graphs.py            # from the repository root; needs scikit-learn

One training step of the main job's network (``autograd-lite iris`` defaults: the 4-8-3
Classifier, layers layer1, act1, layer2, sigmoid hidden layer, softmax cross-entropy,
seed 0, the 120 training rows), with
``backward(retain_graph=True)`` so the pictures show the gradients:

- ``iris_graph.svg``: every op, grouped in one cluster per module;
- ``iris_graph_layers.svg``: ``collapse=True``, each layer one node;
- ``iris_graph.txt``: the text listing (what docs/graphs.md quotes).

Without Graphviz's ``dot`` the .dot files are written instead (with a warning).
"""
import sys
from pathlib import Path

import autograd_lite as ag
from autograd_lite.demo.training import Classifier, load_split, loss_fn
from autograd_lite.viz import render_graph, write_graph

OUT = Path(__file__).resolve().parent / 'images'


def iris_step(seed=0):
    """The model and the loss of one full-batch training step, gradients computed."""
    split = load_split('iris', seed=seed)
    model = Classifier([split.n_features, 8, split.n_classes], activation='sigmoid', seed=seed)
    X = ag.Tensor(split.X_train, name='X')                                  # (120, 4)
    loss = loss_fn(model(X), split.y_train, 'softmax')                     # (120, 3) scores -> ()
    loss.backward(retain_graph=True)  # keep the graph, to draw it with its gradients
    return model, loss


def main(out=OUT):
    model, loss = iris_step()
    written = write_graph(loss, out, 'iris_graph', module=model)
    written.append(render_graph(loss, out / 'iris_graph_layers.svg', names=model, collapse=True))
    for path in written:
        print(path)


if __name__ == '__main__':
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
