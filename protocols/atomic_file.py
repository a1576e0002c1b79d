"""Files that are whole or absent: every product is written this way.

:func:`write_atomically` writes to a temporary name in the same directory (``.<name>.<random>.tmp``:
hidden, and not ending like the product), flushes and fsyncs it, then renames it over the final
name and fsyncs the directory. A rename within one file system is atomic, so whatever kills the
writer (SIGKILL, a crash, a full disk), the final name holds either the previous complete file or
the new complete one, never a truncated one; at worst a ``.tmp`` file is left behind.

:func:`append_line` is for logs that grow a line at a time (``events.log``): each line goes out in
one ``write()`` on a descriptor opened with ``O_APPEND``, so a killed writer leaves whole lines
(rewriting the whole log through a temporary file for every line would cost its length each time).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | Path, content: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (octets, text as UTF-8, or a function that writes to a binary file) to
    ``path`` so that ``path`` is never seen incomplete. Returns ``path``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            if callable(content):
                content(file)
            else:
                file.write(content.encode() if isinstance(content, str) else content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_directory(path.parent)
    return path


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` in one ``write()`` (whole lines, even if killed)."""
    data = (line + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, data)
        while written < len(data):  # only on an unusual file system: finish the line
            written += os.write(descriptor, data[written:])
    finally:
        os.close(descriptor)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform lets a directory be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
