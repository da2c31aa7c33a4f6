"""Writing report files: atomically (a reader never sees half a file), with ordinary
permissions, and only inside the target's own directory.

The file mode is computed once at start-up (:func:`file_mode`) and passed in: changing the
process umask to read it while other threads run (a live server, a poller) would let them create
world-writable files in that window.
"""

from __future__ import annotations

import os
import tempfile


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux's
    ``/proc/self/status``); otherwise set and restored once, at start-up, from the main thread."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def file_mode(umask: int) -> int:
    return 0o666 & ~umask


def check_target(path: str) -> str | None:
    """What is wrong with writing a report to ``path`` (None: it can be written): it is a
    directory, or its directory cannot be created or written."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        return "is a directory; give a file path"
    parent = os.path.dirname(target)
    existing = parent
    while not os.path.exists(existing):
        up = os.path.dirname(existing)
        if up == existing:
            break
        existing = up
    if not os.path.isdir(existing):
        return f"cannot create directory {parent}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"directory {existing} is not writable"
    return None


def atomic_write(path: str, text: str, mode: int = 0o644) -> None:
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(f"{path} is a directory")
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pyskill-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp makes it private; a report is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
