"""The ``autograd-lite`` command (also ``python -m autograd_lite``).

``autograd-lite iris --out iris-run`` trains an MLP on scikit-learn's iris data and shows
the whole path: the untrained network's gradients derived by hand, by autograd_lite and by
finite differences side by side; training with a progress line; test accuracy and the
confusion matrix; and, in --out, the graph of one training step, the loss and accuracy
curves and the weights. ``autograd-lite digits`` does the same on the 8x8 digits.

Every option, and whether --out can be written, is checked before any work; the files appear
in --out all together when the run succeeds, and not at all when it fails (run_folder.py).
"""
import argparse
import csv
import difflib
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .. import __version__
from .run_folder import OutError, RunFolder

# The exit status; the help's epilog says the same to users.
OK, GRADIENT_CHECK_FAILED, CANNOT_RUN, RUN_FAILED, INTERRUPTED = 0, 1, 2, 3, 130
EXIT_STATUS = ("Exit status: 0 done; 1 a gradient check failed (the run still trains and writes its files); "
               "2 the command cannot run as given: a bad option, an --out that cannot be written, or "
               "scikit-learn not installed (found before any work); 3 the run failed: the loss diverged, "
               "the files could not be written, or memory ran out; 130 interrupted. After 2, 3 or 130 "
               "nothing is written.")
SEED_MAX = 2**32 - 1  # scikit-learn's random_state takes 0 .. 2**32 - 1

# Per data set: what a plain run uses (each is a command-line option).
DEFAULTS = {
    'iris': dict(hidden=[8], activation='sigmoid', output='softmax', epochs=200, lr=0.02,
                 optimizer='adam', batch_size=None),
    'digits': dict(hidden=[128], activation='relu', output='softmax', epochs=15, lr=3e-3,
                   optimizer='adam', batch_size=64),
}
ABOUT = {'iris': "150 iris flowers, 4 measurements, 3 species (scikit-learn's load_iris); 30 test rows",
         'digits': "1797 8x8 images of handwritten digits, 64 pixels, 10 classes (load_digits); 20%% test rows"}


# -- options -------------------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _batch_size(text):
    # 0 is refused rather than read as "everything": a count of 0 rows per step is more
    # likely a slip (an empty variable, an off-by-one) than a wish, and 'full' says it in words.
    if text == 'full':
        return None
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; use 'full' for the whole training set in one batch") from None


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {SEED_MAX}, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {SEED_MAX} (2**32 - 1), got {value}")
    return value


def _folder(text):
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder name, got {text!r}")
    return Path(text)


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an option it does not know is an error with its own usage and
    the closest option it has (argparse would leave it to the main parser, which says only
    "unrecognized arguments" under the main usage)."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            message = f"unrecognized arguments: {' '.join(extras)}"
            # Compared without the dashes, which every option shares: else '--colour' is "close" to '--lr'.
            options = {name.lstrip('-'): name for action in self._actions for name in action.option_strings}
            words = [word.split('=')[0].lstrip('-') for word in extras if word.startswith('-')]
            close = [options[match] for word in words for match in difflib.get_close_matches(word, options, n=1)]
            self.error(f"{message} (did you mean {close[0]}?)" if close
                       else f"{message} (see {self.prog} --help)")
        return namespace, extras


def build_parser():
    parser = argparse.ArgumentParser(
        prog='autograd-lite',
        description="Train a small MLP with autograd_lite on a scikit-learn data set. Before training it "
                    "compares the network's gradients derived by hand (NumPy), by autograd_lite and by "
                    "central finite differences; then it trains with a progress line, prints the test "
                    "accuracy and the confusion matrix, and writes into --out: the computation graph of "
                    "one training step (graph.svg, or graph.dot where Graphviz is not installed, and the "
                    "text listing graph.txt; graph_layers.* draws each layer as one node), the loss and train "
                    "accuracy curves (loss.csv, and loss.png when matplotlib is installed), the trained weights "
                    "(weights.npz, read back with ag.load), the network's forward and backward as NumPy code "
                    "(backprop.py, with its inputs in backprop_data.npz) and metrics.json.",
        epilog="Example: autograd-lite iris --out iris-run. " + EXIT_STATUS)
    parser.add_argument('--version', action='version', version=f'autograd-lite {__version__}')
    commands = parser.add_subparsers(dest='dataset', required=True, metavar='{iris,digits}',
                                     parser_class=_CommandParser)
    parser.command_parsers = {}  # name -> its parser, whose usage goes with a late error (--out)
    for name, defaults in DEFAULTS.items():
        command = commands.add_parser(name, help=ABOUT[name], description=f"{ABOUT[name]}. " + parser.description,
                                      epilog=f"Example: autograd-lite {name} --out {name}-run. " + EXIT_STATUS)
        parser.command_parsers[name] = command
        command.add_argument('--hidden', type=_positive_int, nargs='+', default=defaults['hidden'], metavar='N',
                             help="hidden layer sizes, one number per layer "
                                  f"(default: {' '.join(map(str, defaults['hidden']))})")
        command.add_argument('--activation', choices=['sigmoid', 'tanh', 'relu'], default=defaults['activation'],
                             help=f"hidden activation (default: {defaults['activation']})")
        command.add_argument('--output', choices=['softmax', 'sigmoid'], default=defaults['output'],
                             help="output layer: softmax with cross-entropy, or a sigmoid per class with binary "
                                  "cross-entropy (one-vs-rest); predictions are the largest score "
                                  f"(default: {defaults['output']})")
        command.add_argument('--epochs', type=_positive_int, default=defaults['epochs'],
                             help=f"passes over the training rows (default: {defaults['epochs']})")
        command.add_argument('--lr', type=_positive_float, default=defaults['lr'],
                             help=f"learning rate (default: {defaults['lr']:g})")
        command.add_argument('--optimizer', choices=['sgd', 'adam'], default=defaults['optimizer'],
                             help=f"adam, or sgd with momentum 0.9 (default: {defaults['optimizer']})")
        command.add_argument('--batch-size', type=_batch_size, default=defaults['batch_size'], metavar='N',
                             help="rows per step, at least 1; 'full' (or any number above the training "
                                  "rows) for the whole training set in one step "
                                  f"(default: {defaults['batch_size'] or 'full'})")
        command.add_argument('--seed', type=_seed, default=0,
                             help="seed of the split, the initial weights and the batch order, "
                                  f"0 to {SEED_MAX} (default: 0)")
        command.add_argument('--compile', action='store_true',
                             help="train with ag.compile: each step's forward and backward run as the NumPy "
                                  "code autograd_lite writes for it (backprop.py in --out shows it), "
                                  "the same numbers without the graph's bookkeeping")
        command.add_argument('--out', type=_folder, default=Path(f'{name}-run'), metavar='DIR',
                             help="folder for the graph, curves, weights and metrics, new or an earlier "
                                  "run's (its files are replaced, others left alone); written only when the "
                                  f"run succeeds (default: {name}-run)")
    return parser


# -- progress ------------------------------------------------------------------------------------
class Progress:
    """Epoch, loss and accuracy: one line rewritten with '\\r' on a terminal, else about
    ten plain lines over the run (logs and pipes do not want a thousand)."""

    def __init__(self, epochs, stream):
        self.epochs, self.stream = epochs, stream
        self.live = hasattr(stream, 'isatty') and stream.isatty()
        self.every = max(1, epochs // 10)
        self.open = False  # a live line is on the screen without its newline

    def end_line(self):
        """End a live line cut short (training stopped), so that what follows starts a line."""
        if self.open:
            self.stream.write('\n')
            self.open = False

    def __call__(self, row):
        line = (f"epoch {row.epoch:>{len(str(self.epochs))}}/{self.epochs}  loss {row.loss:.4f}  "
                f"train accuracy {row.train_accuracy:.3f}")
        if self.live:
            self.stream.write('\r' + line)
            self.open = row.epoch != self.epochs
            if not self.open:
                self.stream.write('\n')
        elif row.epoch % self.every == 0 or row.epoch in (1, self.epochs):
            self.stream.write(line + '\n')
        self.stream.flush()


# -- the steps -------------------------------------------------------------------------------------
def _gradient_check(model, X, y, output, say):
    """The three gradient tables: hand-derived, finite differences and the generated code
    (backward_code), each against autograd_lite. Returns (reports, the generated code)."""
    from ..compare import compare_gradients
    from .hand_backprop import check_gradients, code_gradients, engine_gradients
    hand, numeric, losses = check_gradients(model, X, y, output)
    code_loss, by_code, code = code_gradients(model, X, y, output)
    auto = engine_gradients(model, X, y, output)[1]
    generated = compare_gradients(by_code, auto, atol=1e-8, rtol=1e-5, labels=('code', 'autograd'),
                                  batch_size=len(X))
    say(f"gradient check, untrained network, {len(X)} training rows: loss {losses['hand']:.6f} by hand, "
        f"{losses['autograd']:.6f} by autograd_lite, {code_loss:.6f} by the generated code (backprop.py)")
    say(str(hand))
    say(str(numeric))
    say(str(generated))
    if hand.ok and numeric.ok and generated.ok:
        say(f"agree: hand-derived = autograd_lite (max abs error {hand.max_abs_error:.1e}), "
            f"finite differences = autograd_lite (max abs error {numeric.max_abs_error:.1e}), "
            f"generated code = autograd_lite (max abs error {generated.max_abs_error:.1e})")
    else:
        say("DISAGREE: see the verdicts above")
    return (hand, numeric, generated), code


def _write_backprop(code, args, n_rows, out):
    """backprop.py: the network's generated forward and backward, runnable with NumPy alone;
    its inputs (the untrained weights, the checked rows) in backprop_data.npz beside it."""
    inputs = out / 'backprop_data.npz'
    np.savez(inputs, **code.args)
    body = str(code).split('\n', 3)[3]  # the function, after its import line
    text = (f'"""The {args.dataset} network\'s forward and backward as NumPy code, written by autograd_lite '
            f'from one training step\n(autograd-lite {args.dataset} --seed {args.seed}): the untrained weights and '
            f'the {n_rows} rows of the gradient check.\n\nRun it with NumPy alone: python backprop.py (the inputs '
            f'are in backprop_data.npz beside it).\nIt prints the loss and each gradient, the values of the '
            f'gradient check\'s tables.\n"""\n'
            'import os\n\nimport numpy as np\n\n\n' + body + '\n\n'
            'if __name__ == \'__main__\':\n'
            '    here = os.path.dirname(os.path.abspath(__file__))\n'
            '    with np.load(os.path.join(here, \'backprop_data.npz\')) as saved:\n'
            '        inputs = dict(saved)\n'
            f'    loss, grads = {code.function_name}(**inputs)\n'
            '    print(f\'loss {float(loss)!r}\')\n'
            '    for name, g in grads.items():\n'
            '        print(f\'{name} {g.shape} {g.tolist()!r}\')\n')
    path = out / 'backprop.py'
    path.write_text(text, encoding='utf-8')
    return [path, inputs]


def _write_graph(model, X, y, output, out):
    """The graph of one training step (forward and backward) on rows X: all ops, and one node
    per layer. Returns (paths, note or None); the note says when Graphviz is missing."""
    from ..tensor import Tensor
    from .training import loss_fn
    from ..viz import GraphvizWarning, render_graph, write_graph
    model.zero_grad()
    loss = loss_fn(model(Tensor(X, name='X')), y, output)
    loss.backward(retain_graph=True)  # keep the graph so that it is drawn with its gradients
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', GraphvizWarning)  # said once below, in the run's own words
        paths = write_graph(loss, out, 'graph', module=model)
        paths.append(render_graph(loss, out / 'graph_layers.svg', names=model, collapse=True))
    model.zero_grad()
    note = None
    if Path(paths[0]).suffix == '.dot':
        note = ("Graphviz's dot program was not found, so the graphs are DOT text (graph.dot, graph_layers.dot); "
                "install Graphviz (e.g. apt-get install graphviz) and run: dot -Tsvg graph.dot -o graph.svg")
    return paths, note


def _write_loss_curve(history, out, title):
    """loss.csv always; loss.png when matplotlib is installed. Returns (paths, note or None)."""
    csv_path = out / 'loss.csv'
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['epoch', 'loss', 'train_accuracy'])
        for row in history:
            writer.writerow([row.epoch, f'{row.loss:.10g}', f'{row.train_accuracy:.10g}'])
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return [csv_path], ("matplotlib is not installed, so no loss.png (the curve is in loss.csv); "
                            "pip install matplotlib, or pip install \"autograd_lite[examples]\"")
    # A Figure with its own canvas, not pyplot: no global state, no display needed.
    fig = Figure(figsize=(6, 5))
    FigureCanvasAgg(fig)
    _plot_curves(fig, history, title)
    png = out / 'loss.png'
    fig.savefig(png, dpi=100)
    return [csv_path, png], None


def _plot_curves(fig, history, title):
    """Two panels over the epochs sharing the x axis: the training loss above, the train
    accuracy (0 to 1) below. Returns the two Axes."""
    epochs = [row.epoch for row in history]
    loss_ax, accuracy_ax = fig.subplots(2, 1, sharex=True)
    loss_ax.plot(epochs, [row.loss for row in history])
    loss_ax.set(ylabel='training loss', title=title)
    accuracy_ax.plot(epochs, [row.train_accuracy for row in history], color='tab:green')
    accuracy_ax.set(xlabel='epoch', ylabel='train accuracy', ylim=(0, 1.02))
    for ax in (loss_ax, accuracy_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return loss_ax, accuracy_ax


def _confusion_text(matrix, names):
    width = max(5, *(len(n) for n in names), len(str(matrix.max())))
    lines = ['confusion matrix (rows: true class, columns: predicted class):',
             ' ' * width + ''.join(f' {n:>{width}}' for n in names)]
    lines += [f'{n:>{width}}' + ''.join(f' {v:>{width}}' for v in row) for n, row in zip(names, matrix)]
    return '\n'.join(lines)


def run(args, folder, stream=None):
    """Do the job described by parsed ``args``, writing into ``folder.stage`` (a
    :class:`RunFolder`) and committing it at the end; returns the exit status (OK,
    GRADIENT_CHECK_FAILED, or RUN_FAILED when the loss diverged: then nothing is committed)."""
    from sklearn.metrics import confusion_matrix

    from ..serialization import save
    from .training import Classifier, DivergedError, compiled_step, load_split, make_optimizer, predict, train

    stream = sys.stdout if stream is None else stream

    def say(text=''):
        stream.write(text + '\n')
        stream.flush()

    start = time.perf_counter()
    data = load_split(args.dataset, seed=args.seed)
    sizes = [data.n_features, *args.hidden, data.n_classes]
    # Named layers (layer1, act1, layer2): one set of names in the table, graph, listing, weights.npz.
    model = Classifier(sizes, activation=args.activation, seed=args.seed).name_parameters()
    batch = len(data.X_train) if args.batch_size is None else min(args.batch_size, len(data.X_train))
    classes = ', '.join(data.class_names)
    say(f"autograd-lite {args.dataset}: {len(data.X_train)} training rows, {len(data.X_test)} test rows "
        f"(stratified, seed {args.seed}), {data.n_features} features, {data.n_classes} classes ({classes})")
    loss_name = 'cross-entropy' if args.output == 'softmax' else 'binary cross-entropy per class'
    say(f"network {'-'.join(map(str, sizes))}: {args.activation} hidden, {args.output} output, {loss_name}; "
        f"{args.optimizer} lr {args.lr:g}, {args.epochs} epochs, "
        f"{'full batch' if batch == len(data.X_train) else f'batches of {batch}'}\n")

    # The check and the graph use the first batch of training rows: one training step's data.
    X_step, y_step = data.X_train[:batch], data.y_train[:batch]
    (hand_report, numeric_report, code_report), code = _gradient_check(model, X_step, y_step, args.output, say)
    backprop_paths = _write_backprop(code, args, len(X_step), folder.stage)
    graph_paths, graph_note = _write_graph(model, X_step, y_step, args.output, folder.stage)

    say("\ntraining")
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
    progress = Progress(args.epochs, stream)
    compiled = compiled_step(model, args.output) if args.compile else None
    train_start = time.perf_counter()
    try:
        # Overflow warnings from inside the ops would only precede the message below.
        with np.errstate(over='ignore', invalid='ignore'):
            history = train(model, data.X_train, data.y_train, optimizer, args.epochs, output=args.output,
                            batch_size=args.batch_size, seed=args.seed, callback=progress, compiled=compiled)
    except DivergedError as exc:
        progress.end_line()
        sys.stderr.write(_diverged_text(args, exc) + '\n')
        return RUN_FAILED
    train_seconds = time.perf_counter() - train_start

    predicted = predict(model, data.X_test)
    correct = int(np.sum(predicted == data.y_test))
    test_accuracy = correct / len(data.y_test)
    matrix = confusion_matrix(data.y_test, predicted, labels=range(data.n_classes))
    say(f"\ntest accuracy {test_accuracy:.3f} ({correct}/{len(data.y_test)}), trained in {train_seconds:.2f} s"
        + (f" (compiled: the step ran as generated code, recorded {compiled.recordings} time"
           f"{'s' if compiled.recordings != 1 else ''}: one per batch size)" if compiled is not None else ""))
    say(_confusion_text(matrix, data.class_names))

    curve_paths, curve_note = _write_loss_curve(history, folder.stage, f"autograd-lite {args.dataset}")
    weights = save(model, folder.stage / 'weights.npz')
    metrics = folder.stage / 'metrics.json'
    result = {
        'dataset': args.dataset, 'sizes': sizes,
        'options': {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        'test_accuracy': test_accuracy, 'confusion_matrix': matrix.tolist(), 'class_names': data.class_names,
        'final_loss': history[-1].loss, 'final_train_accuracy': history[-1].train_accuracy,
        'train_seconds': train_seconds,
        'gradient_check': {'hand_vs_autograd': hand_report.as_dict(),
                           'numeric_vs_autograd': numeric_report.as_dict(),
                           'code_vs_autograd': code_report.as_dict()},
    }
    # allow_nan=False: NaN is not JSON; train() has stopped any run that would produce one.
    metrics.write_text(json.dumps(result, indent=2, allow_nan=False) + '\n', encoding='utf-8')
    folder.commit()

    say(f"\nwrote into {args.out}/:")
    written = [(graph_paths[:2], "the graph of one training step (picture, text listing)"),
               (graph_paths[2:], "the same, one node per layer"),
               (curve_paths, "the loss and train accuracy curves"),
               ([weights], "the trained weights (ag.load reads them)"),
               (backprop_paths, "the network's backprop as NumPy code (python backprop.py)"),
               ([metrics], "accuracy, confusion matrix, gradient check")]
    for paths, what in written:
        say(f"  {', '.join(Path(p).name for p in paths):32s} {what}")
    for note in (graph_note, curve_note):
        if note:
            say(f"note: {note}")
    say(f"done in {time.perf_counter() - start:.1f} s")
    return OK if hand_report.ok and numeric_report.ok and code_report.ok else GRADIENT_CHECK_FAILED


def _diverged_text(args, exc):
    """What went wrong and what to change, for a :class:`~.training.DivergedError`."""
    what = "the weights overflowed" if exc.loss is None else f"the loss became {exc.loss}"
    lower = min(args.lr / 10, DEFAULTS[args.dataset]['lr'])
    return (f"autograd-lite {args.dataset}: error: the loss diverged ({what} at epoch {exc.epoch} of "
            f"{args.epochs}, step {exc.step}): {args.optimizer} with --lr {args.lr:g} takes too large steps; "
            f"try a lower --lr, e.g. --lr {lower:g}. Nothing was written into {args.out}.")


def main(argv=None):
    """Entry point of the ``autograd-lite`` console script; returns the exit status (the
    help's epilog lists them: EXIT_STATUS)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = parser.command_parsers[args.dataset]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        sys.stderr.write(f"autograd-lite {args.dataset}: error: this command needs scikit-learn: "
                         "pip install \"autograd_lite[examples]\"\n")
        return CANNOT_RUN
    try:
        folder = RunFolder(args.out)
    except OutError as exc:
        command.error(f"argument --out: {exc}")
    from .training import one_blas_thread
    try:
        with one_blas_thread():
            return run(args, folder)
    except OSError as exc:
        sys.stderr.write(f"autograd-lite {args.dataset}: error: {exc}; nothing was written into {args.out}\n")
        return RUN_FAILED
    except MemoryError as exc:  # sizes are not capped: what fits depends on the machine
        sys.stderr.write(f"autograd-lite {args.dataset}: error: out of memory ({exc}); choose a smaller --hidden "
                         f"or --batch-size; nothing was written into {args.out}\n")
        return RUN_FAILED
    except KeyboardInterrupt:
        sys.stderr.write(f"\nautograd-lite {args.dataset}: interrupted; nothing was written into {args.out}\n")
        return INTERRUPTED
    finally:
        folder.discard()


if __name__ == '__main__':
    sys.exit(main())
