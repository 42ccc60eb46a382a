"""The folder a run writes its files into, all or nothing.

:class:`RunFolder` checks ``--out`` before any work and opens a hidden staging folder: beside
a new ``--out`` (in its nearest existing parent), or inside an existing one, so that both are
on the same file system and the final moves are renames. The run writes into
``folder.stage``; :meth:`~RunFolder.commit` moves the files into place once all are written,
and :meth:`~RunFolder.discard` (on any failure) removes the staging folder, so a failed or
interrupted run leaves ``--out`` as it was.
"""
import os
import shutil
import tempfile
from pathlib import Path

# Every file a run may write.
OUTPUTS = ('graph.svg', 'graph.dot', 'graph.txt', 'graph_layers.svg', 'graph_layers.dot', 'loss.csv', 'loss.png',
           'weights.npz', 'backprop.py', 'backprop_data.npz', 'metrics.json')
# Files a run writes where a run writes their alternatives instead: a new graph.dot (no
# Graphviz) must not sit beside an earlier run's graph.svg, nor a loss.csv without loss.png
# beside an earlier curve.
_ALTERNATIVES = {'graph.svg': 'graph.dot', 'graph.dot': 'graph.svg',
                 'graph_layers.svg': 'graph_layers.dot', 'graph_layers.dot': 'graph_layers.svg',
                 'loss.csv': 'loss.png'}


class OutError(ValueError):
    """``--out`` names no place the run can write its files into."""


class RunFolder:
    """``RunFolder(out)``: check that folder ``out`` (new, or an earlier run's) can take the
    run's files and open the staging folder ``self.stage``; raises :class:`OutError` with the
    reason (a file in the way, no permission, ...)."""

    def __init__(self, out):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise OutError(f"{self.out} is a file, not a folder; name a new folder or an existing one")
        self._existed = self.out.is_dir()
        # Found now, not when the files are moved in one by one (the move must not fail halfway).
        blocked = [name for name in OUTPUTS if self._existed and (self.out / name).is_dir()]
        if blocked:
            raise OutError(f"{self.out / blocked[0]} is a folder, where the run writes a file; move it away")
        # A new folder's parents may be missing too: stage in the nearest one that exists.
        place = next(p for p in (self.out, *self.out.parents) if p.exists())
        if not place.is_dir():
            raise OutError(f"cannot make the folder {self.out}: {place} is a file")
        prefix = '.autograd-lite-partial-' if self._existed else f'.{self.out.name}.partial-'
        try:
            self.stage = Path(tempfile.mkdtemp(prefix=prefix, dir=place))
        except OSError as exc:
            raise OutError(f"cannot write into {place}: {exc.strerror or exc}") from None
        # mkdtemp makes the folder private (0o700); the run's folder gets the usual permissions.
        os.chmod(self.stage, 0o777 & ~_umask())

    def commit(self):
        """Move the staged files into ``out`` (made now when it is new) and remove the stage."""
        if not self._existed:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.stage, self.out)
            return
        names = os.listdir(self.stage)
        for name in names:
            os.replace(self.stage / name, self.out / name)
        for name in names:
            stale = _ALTERNATIVES.get(name)
            if stale and stale not in names:
                (self.out / stale).unlink(missing_ok=True)
        self.stage.rmdir()

    def discard(self):
        """Remove the staging folder and whatever was written into it (nothing after commit)."""
        shutil.rmtree(self.stage, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
