"""MkDocs hook: the site's home page is README.md, so the README is the one source.

README.md sits at the repository root and links into ``docs/`` (``docs/images/x.svg``);
the page is served from the root of ``docs/``, so those links lose their ``docs/`` prefix,
and a page named in inline code (`` `docs/tutorial.md` ``) becomes a link to it. A link to
anything else outside ``docs/`` stays as it is, and ``mkdocs build --strict`` rejects it,
as it rejects any broken link.
"""
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

# [text](docs/...) and ![alt](docs/...)
_DOCS_LINK = re.compile(r'\]\(docs/')
# `docs/engine.md`, not inside a link already
_DOCS_PAGE = re.compile(r'(?<!\[)`docs/([\w./-]+\.md)`')


def readme_as_page(text):
    """README.md's Markdown with its paths into docs/ made relative to docs/."""
    text = _DOCS_LINK.sub('](', text)
    return _DOCS_PAGE.sub(r'[`docs/\1`](\1)', text)


def on_files(files, config):
    """Add index.md, made from README.md (a page there already would be a second source)."""
    if files.get_file_from_path('index.md') is not None:
        raise PluginError('docs/index.md exists, but the home page is README.md '
                         '(docs/hooks/readme_page.py): edit README.md and delete docs/index.md')
    readme = Path(config.config_file_path).parent / 'README.md'
    page = readme_as_page(readme.read_text(encoding='utf-8'))
    files.append(File.generated(config, 'index.md', content=page))
    return files
