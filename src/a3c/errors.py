"""The exception types that the CLI turns into a single error line: bad input, and a failed write."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class UserError(Exception):
    """Bad input from the user: a wrong flag value, a missing file, an unknown game id.

    The CLI prints ``a3c: error: <message>`` on stderr and exits with code 2, without a
    traceback (``--debug`` shows one).
    """


class StorageError(OSError):
    """A write to the run dir failed: the disk is full (ENOSPC), failing (EIO), read-only, ...
    The run stops with one line that names the path and the free space; what was written before
    (checkpoints are written atomically) stays whole."""

    def __init__(self, error: OSError, path: str | os.PathLike[str]) -> None:
        super().__init__(error.errno, error.strerror or str(error), str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror} ({free_space(Path(self.filename))} free there)"


def free_space(path: Path) -> str:
    """The free space of the file system that holds ``path``, as ``12.3 MB``."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                free = shutil.disk_usage(folder).free
            except OSError:
                return "unknown"
            return f"{free / 1e6:.1f} MB" if free >= 1e5 else f"{free / 1e3:.1f} kB"
    return "unknown"
