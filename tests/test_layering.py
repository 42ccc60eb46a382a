"""The package's structure: imports form a DAG, and the one reference-count trick is exact.

Each module is imported first, in a fresh interpreter whose ``autograd_lite`` package is an
empty shell (so ``__init__``'s import order cannot hide a cycle: with a cycle, Python raises
"cannot import name ... from partially initialized module").
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import autograd_lite

PACKAGE = pathlib.Path(autograd_lite.__file__).parent
MODULES = sorted(
    '.'.join(p.relative_to(PACKAGE.parent).with_suffix('').parts).replace('.__init__', '')
    for p in PACKAGE.rglob('*.py') if p.name != '__main__.py')

# A package shell: the real folder, but an empty __init__.
_SHELL = f"""
import importlib, importlib.util, sys, types
pkg = types.ModuleType('autograd_lite')
pkg.__path__ = [{str(PACKAGE)!r}]
sys.modules['autograd_lite'] = pkg
importlib.import_module(sys.argv[1])
"""


@pytest.mark.parametrize('module', [m for m in MODULES if m != 'autograd_lite'])
def test_every_module_imports_first_in_a_fresh_interpreter(module):
    # The demo application sits on top and uses the whole package: it is imported as a user would
    script = f'import {module}' if module.startswith('autograd_lite.demo') else _SHELL
    done = subprocess.run([sys.executable, '-c', script, module], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_core_modules_import_nothing_above_them():
    # tensor and source are the bottom: they import nothing of the package at all
    for leaf in ('tensor', 'source', 'refcount'):
        text = (PACKAGE / f'{leaf}.py').read_text()
        assert 'from . import' not in text and 'from .' not in text.replace('from .tensor', ''), leaf


def test_no_module_writes_another_modules_globals():
    # the debug modes register an observer through a function of the engine; modules enter
    # and leave their scope through the grad-mode object's methods
    import re
    siblings = '|'.join(p.stem for p in PACKAGE.glob('*.py'))
    for path in PACKAGE.rglob('*.py'):
        assigned = re.findall(rf'^\s*(?:{siblings})\.\w+(?:\.\w+)*\s*=[^=]', path.read_text(), re.M)
        assert not assigned, (path, assigned)
    module = (PACKAGE / 'nn' / 'module.py').read_text()
    assert 'enter_scope(self)' in module and 'mode.scope =' not in module and 'mode.recording =' not in module


def test_the_operators_short_calls_match_their_ops():
    # operators.py calls _Binary.__call__(op, x, y) for speed: each op must be of that class
    from autograd_lite import engine, ops
    for name in ('add', 'sub', 'mul', 'div', 'matmul', 'pow'):
        assert type(getattr(ops, name)) is engine._Binary, name
    assert type(ops.neg) is engine._Unary
    text = (PACKAGE / 'operators.py').read_text()
    import re
    used = set(re.findall(r'_binary\(ops\.(\w+)', text)) | set(re.findall(r'_unary\(ops\.(\w+)', text))
    assert used == {'add', 'sub', 'mul', 'div', 'matmul', 'pow', 'neg'}


def test_every_way_of_making_a_tensor_sets_every_slot():
    # Tensor(), tensor.from_op, tensor.new_leaf and engine._result (op results, in and out of a
    # graph) each write the slots themselves: a slot one of them forgets would raise AttributeError later
    import copy
    import pickle
    import numpy as np
    import autograd_lite as ag
    from autograd_lite.tensor import Tensor, from_op, new_leaf
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with ag.no_grad():
        outside = x * 2
    made = {'Tensor()': x, 'Tensor._make': Tensor._make(np.ones(2)), 'from_op': from_op(np.ones(2), None, None, None, None, None),
            'new_leaf': new_leaf(np.ones(2)), 'op result': x * 2, 'op result under no_grad': outside, 'ufunc result': np.exp(x),
            'deepcopy': copy.deepcopy(x * 2), 'unpickled': pickle.loads(pickle.dumps(x))}
    slots = [s for s in Tensor.__slots__ if not s.startswith('__')]
    for how, t in made.items():
        missing = [s for s in slots if not hasattr(t, s)]
        assert not missing, (how, missing)


# -- the reference-count trick, on every Python the package claims ------------------------------
_REFCOUNT_CHECK = """
import runpy, sys
rc = runpy.run_path(sys.argv[1])
held_only_by = rc['held_only_by']
on = rc['_OWN'] is not None
if sys.version_info[:2] == (3, 10):  # counts the caller's argument slot too: the trick stays off
    assert not on and not held_only_by(object(), 99)
    print('ok (off)', sys.version_info[:2])
    sys.exit(0)
assert on, 'the trick should be on for CPython 3.11-3.13'

def one_holder():
    obj = object()
    return held_only_by(obj, 1)

def two_holders():
    obj = object()
    other = obj
    return held_only_by(obj, 1), held_only_by(obj, 2)

def in_a_list():
    obj = object()
    kept = [obj]
    return held_only_by(obj, 1)

def passed_on(obj):  # the caller's variable and this parameter: two holders
    return held_only_by(obj, 2), held_only_by(obj, 1)

assert one_holder() is True
assert two_holders() == (False, True)
assert in_a_list() is False
def fresh():
    y = object()
    return passed_on(y)
def also_in_a_dict():
    y = object()
    kept = {'y': y}
    return passed_on(y)
assert fresh() == (True, False)
assert also_in_a_dict() == (False, False)
print('ok', sys.version_info[:2])
"""


def _interpreters():
    """This Python, and every other CPython 3.10-3.13 found (pyenv's versions, or on PATH)."""
    found = {sys.version_info[1]: sys.executable}
    pyenv = pathlib.Path(os.environ.get('PYENV_ROOT', pathlib.Path.home() / '.pyenv')) / 'versions'
    for minor in (10, 11, 12, 13):
        candidates = sorted(pyenv.glob(f'3.{minor}.*/bin/python')) + [shutil.which(f'python3.{minor}')]
        for path in candidates:
            if minor not in found and path and 'shims' not in str(path):
                found[minor] = str(path)
    return [pytest.param(found.get(minor), id=f'3.{minor}',
                         marks=[] if minor in found else pytest.mark.skip(reason=f'python3.{minor} is not installed'))
            for minor in (10, 11, 12, 13)]


@pytest.mark.parametrize('python', _interpreters())
def test_the_refcount_trick_is_exact_on_each_claimed_python(python):
    # refcount.py imports nothing but sys, so it runs under an interpreter without NumPy
    done = subprocess.run([python, '-c', _REFCOUNT_CHECK, str(PACKAGE / 'refcount.py')],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith('ok')
