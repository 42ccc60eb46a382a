"""Griffe extension for the API reference: the package's reST-flavoured docstrings as Markdown.

The docstrings are written for ``help()`` and doctest, and mkdocstrings renders Markdown,
in which ``>>>`` starts a block quote and ``[a, b]`` can look like a link. So, before
rendering (the source files are not touched):

- a doctest block (a paragraph whose first line starts with ``>>>``) becomes a ``pycon``
  code block, without ``# doctest: +SKIP`` flags;
- a literal block (a paragraph ending in ``::``, then indented lines) becomes a code block;
- a role such as :func:`to_dot` or :class:`~autograd_lite.Tensor` becomes inline code.
"""
import re
import textwrap

import griffe

_ROLE = re.compile(r':(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`]+)`')
_DOCTEST_FLAG = re.compile(r'\s*#\s*doctest:\s*[+-]\w+(?:\s*,\s*[+-]\w+)*\s*$')


def _indent(line):
    return len(line) - len(line.lstrip())


def rest_to_markdown(text):
    """The Markdown equivalent of docstring ``text`` (doctests and literal blocks fenced)."""
    text = _ROLE.sub(lambda m: f'`{m.group(1)}`', text)
    lines = text.split('\n')
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith('>>>'):
            pad = line[:_indent(line)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(_DOCTEST_FLAG.sub('', lines[i][len(pad):]))
                i += 1
            out += [pad + '```pycon', *(pad + b for b in block), pad + '```']
            continue
        if stripped.endswith('::') and i + 1 < len(lines) and not lines[i + 1].strip():
            # the block: the indented lines after the blank one(s), up to a less indented line
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            start, end = j, j
            # a summary line's own indentation is gone (inspect.cleandoc), so a block after
            # it may sit at any indentation: up to the first line less indented than the block
            base = _indent(line) if i else _indent(lines[start]) - 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
                end += 1
            while end > start and not lines[end - 1].strip():
                end -= 1
            if start < end:
                pad = line[:_indent(line)]
                head = line.rstrip()[:-1]  # 'written as plain Python::' -> '...Python:'
                if head.strip() != ':':
                    out += [head, '']
                code = textwrap.dedent('\n'.join(lines[start:end])).split('\n')
                out += [pad + '```text', *(pad + c if c else c for c in code), pad + '```']
                i = end
                continue
        out.append(line)
        i += 1
    return '\n'.join(out)


class ReSTDocstrings(griffe.Extension):
    """Rewrite every loaded object's docstring with :func:`rest_to_markdown`."""

    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)
