"""Atomic writes and crash-tolerant JSONL: nothing half-written is ever left under a final name.

Also the checks every command makes before any work: an output path that can be written (`check_output`),
an input path that exists (`missing_reason` tells a symlink loop from a typo), and the one-process-per-folder
lock (`hold_folder`). Files are written with the user's umask (a team-shared folder stays readable).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ragtune.errors import InputError


def _umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status; elsewhere the set-and-restore dance)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _apply_umask(path: str | Path, folder: bool = False) -> None:
    """mkstemp/mkdtemp create 0600/0700 entries; give the final file or folder the mode a plain open/mkdir would."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _apply_umask(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write `obj` as JSON atomically (UTF-8, non-ASCII kept as is)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write one JSON object per line, atomically."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temp folder next to `final`; on success it replaces `final` with one rename.

    An interrupted build leaves only a `.tmp-*` folder behind, never a half-built `final`.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        _apply_umask(tmp, folder=True)
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish_copy(src: str | Path, final: str | Path) -> Path:
    """Copy folder `src` to `final` through a fresh temp folder and one rename (never a half-copied model)."""
    with atomic_dir(final) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    return Path(final)


def append_jsonl(path: str | Path, row: Any) -> None:
    """Append one JSON line and fsync it, so a finished record survives a crash."""
    append_jsonl_many(path, [row])


def append_jsonl_many(path: str | Path, rows: list[Any]) -> None:
    """Append rows as JSON lines with one write and one fsync (a torn tail is repaired first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # read access: the torn-tail check preads
    try:
        _repair_torn_tail(fd)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _repair_torn_tail(fd: int) -> None:
    """If the file does not end with a newline (a torn write), start the next record on a new line."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")


def read_jsonl_tolerant(path: str | Path) -> Iterator[dict]:
    """Read a journal-like JSONL file, skipping torn or corrupt lines (left by a crash mid-write)."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


# ---------------------------------------------------------------------------------------------
# checks before the work


def missing_reason(path: str | Path) -> str:
    """Why `path` cannot be opened: 'is a symlink loop', 'is a broken symlink (to X)', or 'does not exist'."""
    path = Path(path).expanduser()
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return "is a symlink loop (it points back to itself)"
            return f"is a broken symlink (it points to {os.readlink(path)}, which does not exist)"
    for parent in path.parents:  # a loop or a file further up
        if os.path.islink(parent) and not parent.exists():
            return f"cannot be reached: {parent} {missing_reason(parent)}"
        if parent.is_file():
            return f"cannot exist: {parent} is a file, not a folder"
    return "does not exist"


def check_output(path: str | Path, kind: Literal["file", "folder"] = "file", option: str = "-o") -> Path:
    """Refuse, before any work, an output path that cannot be written: a file in the way of a folder, a folder
    where a file goes (or the reverse), a symlink loop, a folder that does not allow writing. Creates nothing."""
    path = Path(path).expanduser()
    where = f"{option} {path}" if option else str(path)
    if os.path.islink(path) and not path.exists():
        raise InputError(f"{where}: {missing_reason(path)}; choose another path.")
    if kind == "file" and path.is_dir():
        raise InputError(f"{where} is a folder; give a file name (the output is one file).")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise InputError(f"{where} is a file, not a folder; give a folder path (the output is a folder), or move the file away.")
    existing = path if path.is_dir() else None
    for parent in path.parents:
        if existing is not None:
            break
        if os.path.islink(parent) and not parent.exists():
            raise InputError(f"{where}: {parent} {missing_reason(parent)}; choose another path.")
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{where}: {parent} is a file, not a folder, so nothing can be written under it; "
                                 "choose another path.")
            existing = parent
    if existing is not None:
        _probe_writable(existing, where)
    return path


def _probe_writable(folder: Path, where: str) -> None:
    """Create and remove a temp file in `folder`: the only honest test (root ignores mode bits, not read-only mounts
    or immutable folders)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ragtune-write-test-", dir=folder)
    except OSError as e:
        reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "not permitted",
                  errno.ENOSPC: "no space left on the device"}.get(e.errno, e.strerror or str(e))
        raise InputError(f"{where}: cannot write in {folder} ({reason}); choose a folder you can write to.") from None
    os.close(fd)
    os.unlink(tmp)


# ---------------------------------------------------------------------------------------------
# one process per folder

_held: dict[Path, list] = {}  # resolved folder -> [lock, depth]: a process may re-enter a folder it holds
_held_guard = threading.Lock()


class FolderLock:
    """FOLDER/.lock held by this process (re-entrant within it); `release()` once per `hold_folder`."""

    def __init__(self, folder: Path, key: Path):
        self.folder, self._key = folder, key

    def release(self) -> None:
        with _held_guard:
            entry = _held.get(self._key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held[self._key]
                (self.folder / ".lock.owner").unlink(missing_ok=True)
                entry[0].release()

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def hold_folder(folder: str | Path) -> FolderLock:
    """Take FOLDER/.lock without waiting (creating FOLDER); a second process is refused at once with an InputError
    naming the holder's pid. The same process may hold a folder twice (e.g. a job inside a job)."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    check_output(folder, "folder", option="")
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            return FolderLock(folder, key)
        lock = FileLock(str(folder / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            owner_file = folder / ".lock.owner"
            owner = owner_file.read_text(encoding="utf-8").strip() if owner_file.exists() else "?"
            raise InputError(f"{folder} is in use by another ragtune process (pid {owner}); wait for it to finish, "
                             "or choose another output folder.") from None
        _held[key] = [lock, 1]
    atomic_write_text(folder / ".lock.owner", f"{os.getpid()}\n")
    return FolderLock(folder, key)


class ProgressLines:
    """Progress for a log that is not a terminal (CI, `| tee`): a line on stderr at least every `every` seconds
    with done/total, the rate and the ETA; silent for stages shorter than that. `update(done)` as work completes
    (call it often; it prints only when a line is due), `tick()` from a timer-free loop."""

    def __init__(self, what: str, total: int, every: float = 30.0, done: int = 0, stream=None):
        import time

        self.what, self.total, self.every = what, max(int(total), 0), every
        self.start_done, self.done = done, done
        self._t0 = self._last = time.monotonic()
        self._stream = stream

    def update(self, done: int) -> bool:
        """Record progress; print a line when one is due. True when it printed."""
        import sys
        import time

        self.done = done
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        elapsed = now - self._t0
        made = self.done - self.start_done
        rate = made / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = _clock(left) if left is not None else "unknown"
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        print(f"  {self.what}: {self.done}/{self.total}{pct}, {_clock(elapsed)} elapsed, ETA {eta}",
              file=self._stream or sys.stderr, flush=True)
        return True


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
