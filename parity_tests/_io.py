"""The one atomic file writer of ``parity_tests``: every report, table, plot and generated document goes through it.

A file is written under a temporary name in its own folder (``.<name>.<random>.tmp``), flushed to disk, given
its final permissions, and renamed onto its name with ``os.replace`` (atomic on one file system): a reader sees
the old file or the new one, never half of one, and a failure (an exception, Ctrl-C) leaves no temporary file
and no changed file behind.

Permissions: ``tempfile.mkstemp`` creates its file owner-only (0600). A written file gets instead the mode
an ordinary ``open(path, "w")`` would give it, ``0o666 & ~umask`` (0644 under the usual umask 022), unless the
caller passes ``mode`` (the porting guide keeps the mode its checked-in file already has).

- :func:`write_atomic` writes one file;
- :func:`staged` writes several, all or nothing: each is staged under its temporary name, and they are renamed
  only when the ``with`` block ends normally;
- :func:`check_writable` proves a folder writable before a long run.

Content is ``str`` (written as UTF-8, newlines untranslated), ``bytes``, or a callable that fills the temporary
path itself (``lambda tmp: fig.savefig(tmp, format="png")``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Content", "check_writable", "default_mode", "staged", "write_atomic"]

#: What a file is written from: text (UTF-8), bytes, or a callable that writes the given temporary path.
Content = str | bytes | Callable[[Path], object]


def default_mode() -> int:
    """The mode a newly created file gets from ``open``: ``0o666`` without the process's umask bits."""
    mask = os.umask(0o022)  # the only portable way to read the umask is to set it ...
    os.umask(mask)  # ... and put it back at once
    return 0o666 & ~mask


def _fill(tmp: Path, content: Content) -> None:
    """Write ``content`` into the temporary file ``tmp`` and flush it to disk."""
    if isinstance(content, str):
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
    elif isinstance(content, bytes):
        tmp.write_bytes(content)
    elif callable(content):
        content(tmp)
    else:
        raise TypeError(f"content must be str, bytes or a callable writing a path; received {type(content).__name__}")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def staged(folder: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Callable[[str, Content], None]]:
    """Yield ``stage(name, content)``, which writes ``content`` to a temporary file in ``folder`` at once.

    When the block ends normally every staged file is renamed onto ``folder / name`` in staging order; when it
    raises (KeyboardInterrupt included) every temporary file is removed and no file of ``folder`` is touched.
    Staged files get ``mode`` (default :func:`default_mode`)."""
    directory = Path(folder)
    permissions = default_mode() if mode is None else mode
    pending: list[tuple[Path, Path]] = []

    def stage(name: str, content: Content) -> None:
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ValueError(f"name must be a plain file name inside the folder; received {name!r}")
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        pending.append((tmp, directory / name))
        _fill(tmp, content)
        os.chmod(tmp, permissions)  # mkstemp created it 0600

    try:
        yield stage
        for tmp, final in pending:
            os.replace(tmp, final)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], content: Content, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``content`` atomically (its folder must exist); see the module docstring."""
    target = Path(path)
    with staged(target.parent, mode=mode) as stage:
        stage(target.name, content)


def check_writable(folder: str | os.PathLike[str]) -> None:
    """Create ``folder`` (with its parents) and prove that a file can be created in it; ``OSError`` if not."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
        pass
