"""The documentation site: ``mkdocs build --strict`` passes, fails on broken links, and renders.

The build runs ``python -m mkdocs build --strict`` on the repository's mkdocs.yml into a
temporary directory; skipped when mkdocs, the Material theme or mkdocstrings is not
installed (``pip install ".[test]"`` or ``".[docs]"`` installs them). The screenshot test
renders the built tutorial page in headless Chromium (``apt-get install chromium``; skipped
without it) and keeps the PNG as a test artifact: ``$AUTOGRAD_LITE_TEST_ARTIFACTS/docs-tutorial.png``
when that variable names a directory, else ``test-artifacts/docs-tutorial.png`` in the
repository (gitignored). With ``AUTOGRAD_LITE_REQUIRE_DOCS_SITE=1`` (set by .ci/run) a missing
tool fails these tests instead of skipping them.
"""
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 2000
pytestmark = pytest.mark.slow


def _missing(reason):
    if os.environ.get('AUTOGRAD_LITE_REQUIRE_DOCS_SITE') == '1':
        pytest.fail(f"{reason}, and AUTOGRAD_LITE_REQUIRE_DOCS_SITE=1 says the docs site must be tested")
    pytest.skip(reason)


def _require_mkdocs():
    for module, package in [('mkdocs', 'mkdocs'), ('material', 'mkdocs-material'),
                            ('mkdocstrings', 'mkdocstrings'),
                            ('mkdocstrings_handlers.python', 'mkdocstrings-python')]:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is missing
            found = False
        if not found:
            _missing(f'{package} is not installed (pip install ".[docs]")')


def _build(config_dir, site_dir):
    """Run ``mkdocs build --strict`` on ``config_dir``/mkdocs.yml; the CompletedProcess."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING='1')
    return subprocess.run(
        [sys.executable, '-m', 'mkdocs', 'build', '--strict', '-d', str(site_dir)],
        cwd=config_dir, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    """The repository's site, built strictly once for this module's tests."""
    _require_mkdocs()
    site_dir = tmp_path_factory.mktemp('site')
    result = _build(ROOT, site_dir)
    assert result.returncode == 0, (
        f"mkdocs build --strict failed (a new page in docs/ needs its line under nav: in mkdocs.yml; "
        f"link only to files inside docs/):\n{result.stdout}{result.stderr}")
    return site_dir


def _title(markdown):
    """The text of the first ``# `` heading, inline code marks dropped."""
    return next(line[2:].strip() for line in markdown.splitlines() if line.startswith('# ')).replace('`', '')


def test_every_page_of_docs_is_built(site):
    pages = [p for p in (ROOT / 'docs').rglob('*.md') if 'hooks' not in p.parts]
    assert len(pages) >= 7
    for md in pages:
        html = site / md.relative_to(ROOT / 'docs').with_suffix('') / 'index.html'
        assert html.is_file(), f"{md.relative_to(ROOT)} was not built into {html.relative_to(site)}"
        assert html_escape(_title(md.read_text(encoding='utf-8')), quote=False) in html.read_text(encoding='utf-8')


def test_the_home_page_is_the_readme_with_its_links_into_docs_made_relative(site):
    home = (site / 'index.html').read_text(encoding='utf-8')
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    headings = [line.lstrip('#').strip().replace('`', '') for line in readme.splitlines()
                if line.startswith(('# ', '## '))]
    assert 'Building the docs' in headings
    for heading in headings:
        assert f'>{html_escape(heading, quote=False)}<a class="headerlink"' in home, heading
    assert 'src="images/iris_graph.svg"' in home       # README: docs/images/iris_graph.svg
    for page in sorted(set(re.findall(r'`docs/([\w/-]+)\.md`', readme))):   # `docs/x.md` -> a link
        assert f'<a href="{page}/"><code>docs/{page}.md</code></a>' in home, page
    assert (site / 'images' / 'iris_graph.svg').is_file()


def test_the_api_reference_is_rendered_from_the_docstrings(site):
    import autograd_lite
    # reference page -> one public object on it, by the dotted name its anchor has
    pages = {'autograd_lite': 'Tensor', 'nn': 'nn.MLP', 'functional': 'nn.functional.cross_entropy',
             'init': 'nn.init.glorot_uniform', 'optim': 'optim.Adam', 'check': 'check.gradcheck',
             'compare': 'compare.compare_gradients', 'debug': 'debug.detect_anomaly',
             'viz': 'viz.to_dot', 'serialization': 'serialization.save'}
    for page, name in pages.items():
        html = (site / 'reference' / page / 'index.html').read_text(encoding='utf-8')
        obj = autograd_lite
        for part in name.split('.'):
            obj = getattr(obj, part)
        summary = obj.__doc__.strip().split('\n')[0].split('``')[0].split('`')[0]
        assert summary and html_escape(summary, quote=False) in html, (page, summary)
        assert f'id="autograd_lite.{name}"' in html, (page, name)
        assert ':func:`' not in html and ':class:`' not in html, page   # roles become code
    nn_page = (site / 'reference' / 'nn' / 'index.html').read_text(encoding='utf-8')
    # doctest blocks are highlighted code (docs/hooks/rest_docstrings.py), not nested block quotes
    assert '<blockquote>' not in nn_page
    prompt = '<span class="gp">&gt;&gt;&gt; </span>'   # a highlighted doctest prompt
    assert nn_page.count(prompt) >= 8, nn_page.count(prompt)   # nn, Parameter, Linear, Sequential, MLP


def _rest_docstrings():
    pytest.importorskip('griffe', reason='griffe (mkdocstrings-python) is not installed')
    spec = importlib.util.spec_from_file_location('rest_docstrings', ROOT / 'docs' / 'hooks' / 'rest_docstrings.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstrings_doctests_literal_blocks_and_roles_become_markdown():
    import inspect
    to_markdown = _rest_docstrings().rest_to_markdown
    doc = ("See :func:`to_dot` and :class:`~autograd_lite.Tensor`.\n\n"
           ">>> g = ag.to_dot(loss)        # doctest: +SKIP\n>>> g\n<graph>\n\nAfter.")
    assert to_markdown(doc) == ("See `to_dot` and `autograd_lite.Tensor`.\n\n"
                                "```pycon\n>>> g = ag.to_dot(loss)\n>>> g\n<graph>\n```\n\nAfter.")
    doc = "A layer is plain Python::\n\n    class Net(Module):\n        pass\n\nThe end."
    assert to_markdown(doc) == ("A layer is plain Python:\n\n```text\nclass Net(Module):\n    pass\n```\n"
                                "\nThe end.")
    # a literal block right after the summary line, as in errors.at_user_line: inspect.cleandoc
    # dedents it to the summary's column
    doc = inspect.cleandoc("""``message``, then a hint::

        matmul: shapes (8, 1) and (3, 1) are not aligned
          hint: did you mean a1 @ delta3.T?
    """)
    assert to_markdown(doc) == ("``message``, then a hint:\n\n```text\nmatmul: shapes (8, 1) and (3, 1) "
                                "are not aligned\n  hint: did you mean a1 @ delta3.T?\n```")


def test_a_broken_link_anchor_reference_or_page_outside_nav_fails_the_build(tmp_path):
    _require_mkdocs()
    for name in ['mkdocs.yml', 'README.md']:
        shutil.copy(ROOT / name, tmp_path / name)
    ignore = shutil.ignore_patterns('__pycache__')
    shutil.copytree(ROOT / 'docs', tmp_path / 'docs', ignore=ignore)
    shutil.copytree(ROOT / 'autograd_lite', tmp_path / 'autograd_lite', ignore=ignore)
    with open(tmp_path / 'docs' / 'graphs.md', 'a', encoding='utf-8') as f:
        f.write('\nSee [the missing page](no-such-page.md), [an anchor](engine.md#no-such-anchor)'
                ' and [a name][autograd_lite.NoSuchName].\n')
    (tmp_path / 'docs' / 'orphan.md').write_text('# Not in nav\n', encoding='utf-8')
    result = _build(tmp_path, tmp_path / 'site')
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "contains a link 'no-such-page.md', but the target is not found" in out
    assert "does not contain an anchor '#no-such-anchor'" in out
    assert "Could not find cross-reference target 'autograd_lite.NoSuchName'" in out
    assert 'orphan.md' in out and 'not included in the "nav" configuration' in out


def _png_size(data):
    """(width, height) from a PNG's IHDR chunk; AssertionError when ``data`` is not a PNG."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG file'
    length, kind = struct.unpack('>I4s', data[8:16])
    assert kind == b'IHDR' and length == 13, 'a PNG starts with its IHDR chunk'
    ihdr = data[16:16 + 13]
    assert struct.unpack('>I', data[29:33])[0] == zlib.crc32(b'IHDR' + ihdr), 'IHDR checksum'
    return struct.unpack('>II', ihdr[:8])


def _artifact_dir():
    return Path(os.environ.get('AUTOGRAD_LITE_TEST_ARTIFACTS') or ROOT / 'test-artifacts')


def test_the_tutorial_page_renders_in_headless_chromium(site, tmp_path):
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        _missing('chromium is not installed (apt-get install chromium)')
    page = site / 'tutorial' / 'index.html'
    png = tmp_path / 'tutorial.png'
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', f'--user-data-dir={profile}', f'--screenshot={png}',
             f'--window-size={WIDTH},{HEIGHT}', page.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}"
    artifacts = _artifact_dir()
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, artifacts / 'docs-tutorial.png')

    assert _png_size(png.read_bytes()) == (WIDTH, HEIGHT)
    import matplotlib.image
    pixels = np.round(matplotlib.image.imread(png)[..., :3] * 255).astype(np.uint8)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    # not blank: text (anti-aliased: many shades) covers a good part of the page
    assert len(colours) > 50, f"{len(colours)} colours: the page looks blank"
    assert counts.max() < 0.97 * pixels.shape[0] * pixels.shape[1], "one colour fills the page"
    # the theme's stylesheet was applied: the header bar is one saturated colour (indigo)
    band = pixels[5:40].reshape(-1, 3).astype(int)
    band_colours, band_counts = np.unique(band, axis=0, return_counts=True)
    header = band_colours[band_counts.argmax()]
    assert band_counts.max() > 0.5 * len(band), "no header bar: the theme's CSS did not load"
    assert header.max() - header.min() > 60, f"the header bar is {header.tolist()}, not coloured"
