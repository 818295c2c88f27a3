"""Output folders held by one process at a time, and never overwritten by surprise.

``poser train dqn|grpo --out``, ``poser eval --out``, ``poser demo --out`` and ``poser generate
--out`` write several files into a folder over minutes or hours. Two processes writing into the
same folder used to both succeed, the last writer winning silently, with torn CSV rows and
duplicate headers. :func:`claim_run_folder` therefore

1. takes an exclusive ``fcntl.flock`` on ``<folder>/.poser.lock`` for as long as the command
   runs (the kernel drops it when the process ends, ``kill -9`` included, so a stale lock file
   never blocks anyone); a second process gets one line naming the holder's pid and command;
2. refuses a folder that already holds files unless the caller says what to do with them:
   ``resume=True`` (``--resume``: carry on with what is there; refused if the folder holds a
   symbolic link, which later writes would follow) or ``overwrite=True``
   (``--overwrite``: delete it first). ``--overwrite`` deletes only a folder that looks like a
   poser output folder (it holds the lock file or one of :data:`KNOWN_OUTPUTS`), so a mistyped
   ``--out ~`` cannot wipe a home directory.

POSIX only (``fcntl``); see ``docs/dqn.md`` ("Training runs and output folders").
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

LOCK_NAME = ".poser.lock"

#: Files that mark a folder as a poser output folder (for ``--overwrite`` on a folder written
#: before the lock file existed).
KNOWN_OUTPUTS = frozenset(
    {
        "agent.json",
        "model.zip",
        "policy.pt",
        "results.json",
        "results.md",
        "report.md",
        "steps.json",
        "data.jsonl",
        "run.json",
    }
)


class RunFolderError(ValueError):
    """The output folder is in use by another process, or holds files and no flag says what to do."""


class RunFolder:
    """An output folder this process holds (the lock is released by :meth:`release` or at exit).

    Used as a context manager, a command that fails in a folder this claim created, before
    writing anything into it, leaves no folder behind: a refused checkpoint or a bad flag then
    changes nothing on disk."""

    def __init__(self, path: Path, fd: int, resumed: bool, created: bool = False):
        self.path, self.resumed, self.created = path, resumed, created
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        empty = False
        if exc_type is not None and self.created:  # a command refused before writing anything leaves no folder behind
            try:
                empty = [p.name for p in self.path.iterdir()] == [LOCK_NAME]
                if empty:
                    (self.path / LOCK_NAME).unlink()
            except OSError:
                empty = False
        self.release()
        if empty:
            try:
                self.path.rmdir()
            except OSError:
                pass


def _holder(fd: int) -> str:
    """The lock holder's description from the lock file (written by the holder), best effort."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {int(info['pid'])}: {str(info.get('command', '?'))[:120]}"
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return "pid unknown"


def claim_run_folder(path: str | Path, command: str, resume: bool = False, overwrite: bool = False) -> RunFolder:
    """Create (if needed) and lock the output folder ``path`` for this process.

    Raises :class:`RunFolderError` (a ``ValueError``: the CLI prints it as one line, exit 2) when
    another process holds the folder, when it holds files and neither ``resume`` nor
    ``overwrite`` is set, or when ``overwrite`` is asked of a folder that poser did not write.
    """
    if resume and overwrite:
        raise RunFolderError(
            "--resume and --overwrite contradict each other: resume keeps the folder's files, overwrite deletes them"
        )
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"--out {str(folder)!r} is a file; give a folder")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / LOCK_NAME
    ours = lock_path.exists()
    try:  # never through a symlink: a shared folder could point .poser.lock at a file of yours
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise RunFolderError(
            f"cannot use {str(lock_path)!r} as the folder's lock file ({e.strerror}); choose another --out"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunFolderError(
            f"{str(folder)!r} is in use by another process ({holder}); wait for it to end, or choose another --out"
        ) from None
    try:
        others = sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME)
        if resume:
            links = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_symlink()]
            if links:  # writing on (logs are appended) would write through them, outside the folder
                raise RunFolderError(
                    f"{str(folder)!r} holds symbolic links ({', '.join(links[:3])}): a run is resumed only in a "
                    "folder of plain files (copy its files into a fresh folder and resume there)"
                )
        if others and not resume:
            listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            if not overwrite:
                if not ours:
                    lock_path.unlink()  # a refused folder is left as it was found
                raise RunFolderError(
                    f"{str(folder)!r} already holds files ({listed}): pass --resume to carry on there, "
                    "--overwrite to delete them first, or choose another --out"
                )
            if not ours and not KNOWN_OUTPUTS & set(others):
                lock_path.unlink()
                raise RunFolderError(
                    f"{str(folder)!r} holds files ({listed}) that poser did not write: --overwrite deletes only "
                    "poser output folders; choose another --out, or empty it yourself"
                )
            for name in others:
                p = folder / name
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        note = {
            "pid": os.getpid(),
            "command": command or " ".join(sys.argv),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(note) + "\n").encode())
    except BaseException:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    return RunFolder(folder, fd, resumed=bool(resume and others), created=created)
