"""docs/tutorial.md runs as written: its python blocks, in order, in one namespace, print
what the page shows under each of them; and the page, made a Jupyter notebook with
jupytext, executes in a kernel with nbclient and prints the same.

The page's convention: the block right after a python block, fenced as
```` ```text title="Output" ````, is what that block prints; a python block without one
prints nothing. Printed numbers may differ from the page's in the last digit shown
(``0.0633`` matches 0.0632 to 0.0634), and numbers at the level of rounding noise
(both below 1e-12 in size, such as a max abs error of ``2.78e-17``) match each other,
since they depend on the BLAS and the order of its sums; all other text is compared
exactly.

Blocks are compiled with the page's own file name and line numbers, so an error message
that names the user's line says ``docs/tutorial.md:57``, as the page shows. In the notebook
the file is the kernel's cell, so there that location is not compared.

``python tests/test_tutorial.py --write`` runs the blocks and rewrites the Output blocks
with what they print (review the diff: the page is the specification).
"""
import contextlib
import importlib
import io
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / 'docs' / 'tutorial.md'
OUTPUT_FENCE = '```text title="Output"'
_FENCE = re.compile(r'^```(\S*)(.*)$')
_NUMBER = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
_LOCATION = re.compile(r'at \S+:\d+ in ')
NOISE = 1e-12


class Block:
    """A python block of the page: its code, first line number, and the output shown under it."""

    def __init__(self, code, line, expected, output_span):
        self.code, self.line, self.expected, self.output_span = code, line, expected, output_span


def fenced(lines):
    """(info, first line index, content lines, closing line index) for each fenced block."""
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m and lines[i] != '```':
            start = i
            i += 1
            while i < len(lines) and lines[i] != '```':
                i += 1
            yield lines[start], start, lines[start + 1:i], i
        i += 1


def python_blocks(text):
    """The page's python blocks, each with the Output block that follows it (or None)."""
    lines = text.split('\n')
    found = list(fenced(lines))
    blocks = []
    for k, (info, start, content, end) in enumerate(found):
        if info != '```python':
            continue
        expected, span = None, None
        if k + 1 < len(found) and found[k + 1][0] == OUTPUT_FENCE:
            nxt_info, nxt_start, nxt_content, nxt_end = found[k + 1]
            if all(not line.strip() for line in lines[end + 1:nxt_start]):  # right after it
                expected, span = '\n'.join(nxt_content) + '\n', (nxt_start, nxt_end)
        blocks.append(Block('\n'.join(content) + '\n', start + 2, expected, span))
    return blocks


def run_blocks(blocks):
    """Run the blocks in order in one namespace; what each printed. Each is compiled with
    the page's file name, padded so that its line numbers are the page's."""
    namespace = {'__name__': '__main__'}
    printed = []
    for block in blocks:
        code = compile('\n' * (block.line - 1) + block.code, str(PAGE), 'exec')
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        printed.append(out.getvalue())
    return printed


def _ulp(token):
    """One unit in the last digit of a number as written: '0.0633' -> 1e-4, '1.05e-01' -> 1e-3."""
    mantissa, _, exponent = token.lower().partition('e')
    decimals = len(mantissa.partition('.')[2])
    return 10.0 ** (-decimals) * 10.0 ** int(exponent or 0)


def mismatch(expected, actual):
    """None when ``actual`` reads as ``expected`` (numbers within one unit of the last digit,
    or both rounding noise; all other text equal), else a description of the first difference."""
    exp_parts, act_parts = _NUMBER.split(expected), _NUMBER.split(actual)
    exp_nums, act_nums = _NUMBER.findall(expected), _NUMBER.findall(actual)
    if exp_parts != act_parts or len(exp_nums) != len(act_nums):
        for n, (e, a) in enumerate(zip(expected.splitlines() + [''], actual.splitlines() + [''])):
            if _NUMBER.sub('#', e) != _NUMBER.sub('#', a):
                return f"line {n + 1} differs:\n  page:    {e!r}\n  printed: {a!r}"
        return f"the text differs:\npage:\n{expected}\nprinted:\n{actual}"
    for e, a in zip(exp_nums, act_nums):
        if e == a:
            continue
        if not any(c in e for c in '.eE'):  # a count, a shape, an index: exactly
            return f"the number {e} is printed as {a}"
        x, y = float(e), float(a)
        if abs(x) < NOISE and abs(y) < NOISE:
            continue
        if abs(x - y) > 1.0001 * _ulp(e):
            return f"the number {e} is printed as {a} (more than one unit of its last digit apart)"
    return None


def check(blocks, printed, normalise=lambda text: text):
    problems = []
    for block, out in zip(blocks, printed):
        # trailing blank lines are not shown in a fenced block
        expected, out = (block.expected or '').rstrip('\n'), out.rstrip('\n')
        problem = mismatch(normalise(expected), normalise(out))
        if problem:
            problems.append(f"docs/tutorial.md, the python block at line {block.line}: {problem}")
    assert not problems, '\n\n'.join(problems)


# -- the tests -------------------------------------------------------------------------------------
def test_the_page_has_its_output_under_its_blocks():
    blocks = python_blocks(PAGE.read_text(encoding='utf-8'))
    assert len(blocks) >= 12
    assert sum(block.expected is not None for block in blocks) >= 10
    # every Output block belongs to a python block right above it
    text = PAGE.read_text(encoding='utf-8')
    assert text.count(OUTPUT_FENCE) == sum(block.expected is not None for block in blocks)


def test_the_comparison_allows_the_last_digit_and_noise_only():
    assert mismatch('loss 0.0633, err 2.78e-17\n', 'loss 0.0634, err 6.9e-18\n') is None
    assert mismatch('loss 0.0633\n', 'loss 0.0635\n').startswith('the number 0.0633 is printed as 0.0635')
    assert mismatch('shape (130, 8)\n', 'shape (130, 9)\n') == 'the number 8 is printed as 9'
    assert mismatch('1.05e-01\n', '1.06e-01\n') is None and mismatch('1.05e-01\n', '1.07e-01\n')
    assert mismatch('ok\n', 'WRONG\n').startswith('line 1 differs')


def test_the_tutorial_runs_as_written(monkeypatch):
    pytest.importorskip('sklearn')
    monkeypatch.chdir(ROOT)  # messages name the page as docs/tutorial.md
    monkeypatch.syspath_prepend(str(ROOT))
    blocks = python_blocks(PAGE.read_text(encoding='utf-8'))
    check(blocks, run_blocks(blocks))


def _require(module):
    """The module, or a skip; with AUTOGRAD_LITE_REQUIRE_DOCS_SITE=1 (set by .ci/run) a failure."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get('AUTOGRAD_LITE_REQUIRE_DOCS_SITE') == '1':
            pytest.fail(f'{module} is not installed (pip install ".[test]"), and AUTOGRAD_LITE_REQUIRE_DOCS_SITE=1 '
                        'says the tutorial must run as a notebook')
        pytest.skip(f'{module} is not installed (pip install ".[test]")')


def test_the_tutorial_is_a_notebook_that_executes(tmp_path):
    pytest.importorskip('sklearn')
    jupytext, nbclient, nbformat = _require('jupytext'), _require('nbclient'), _require('nbformat')
    _require('ipykernel')
    notebook = jupytext.read(PAGE)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == 'code']
    blocks = python_blocks(PAGE.read_text(encoding='utf-8'))
    assert [cell.source + '\n' for cell in code_cells] == [block.code for block in blocks]
    # The kernel starts in the repository, so it imports this autograd_lite, as the docs do.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name='python3',
                                     resources={'metadata': {'path': str(ROOT)}})
    with _environment(env):  # the kernel inherits the environment
        client.execute()
    printed = [''.join(out.get('text', '') for out in cell.outputs
                       if out.output_type == 'stream' and out.name == 'stdout') for cell in code_cells]
    errors = [out for cell in code_cells for out in cell.outputs if out.output_type == 'error']
    assert not errors
    check(blocks, printed, normalise=lambda text: _LOCATION.sub('at <cell> in ', text))
    nbformat.write(notebook, tmp_path / 'tutorial.ipynb')   # an executed notebook is a valid one
    nbformat.validate(nbformat.read(tmp_path / 'tutorial.ipynb', as_version=4))


@contextlib.contextmanager
def _environment(env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- rewriting the Output blocks -------------------------------------------------------------------------
def write_outputs():
    """Run the page's blocks and put what each prints in its Output block (adding or removing
    blocks as needed)."""
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    text = PAGE.read_text(encoding='utf-8')
    blocks = python_blocks(text)
    printed = run_blocks(blocks)
    lines = text.split('\n')
    # from the end, so that earlier line numbers stay valid
    for block, out in reversed(list(zip(blocks, printed))):
        new = [OUTPUT_FENCE, *out.rstrip('\n').split('\n'), '```'] if out else []
        if block.output_span is not None:
            start, end = block.output_span
            lines[start:end + 1] = new
        elif new:
            after = block.line - 1 + block.code.count('\n')  # the closing fence of the block
            lines[after + 1:after + 1] = [''] + new
    PAGE.write_text('\n'.join(lines), encoding='utf-8')


if __name__ == '__main__':
    if sys.argv[1:] != ['--write']:
        sys.exit("usage: python tests/test_tutorial.py --write   (rewrites the Output blocks of docs/tutorial.md)")
    write_outputs()
