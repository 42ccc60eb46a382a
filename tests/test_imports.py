"""``import autograd_lite`` stays light: the demo application (autograd_lite.demo) and what it
needs (scikit-learn, matplotlib) load only when the command runs. Each check runs in a fresh
interpreter, since this test session has imported all of them already."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ['autograd_lite.demo', 'sklearn', 'matplotlib']


def modules_after(statement):
    """Which of HEAVY are in sys.modules after running ``statement`` in a new interpreter
    started in the repository root (so that it imports this tree's autograd_lite)."""
    code = (f"import json, sys\n{statement}\nimport autograd_lite\n"
            f"print(json.dumps([autograd_lite.__file__, [m for m in {HEAVY!r} if m in sys.modules]]))")
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    path, loaded = json.loads(result.stdout)
    assert Path(path).resolve().parent == ROOT / 'autograd_lite'
    return loaded


def test_import_autograd_lite_loads_neither_the_demo_nor_sklearn_nor_matplotlib():
    assert modules_after('import autograd_lite') == []


def test_the_command_module_loads_sklearn_and_matplotlib_only_when_it_runs():
    pytest.importorskip('sklearn')
    assert modules_after('import autograd_lite.demo.cli') == ['autograd_lite.demo']
    assert modules_after('from autograd_lite.demo import training; training.load_split("iris")') == \
        ['autograd_lite.demo', 'sklearn']
