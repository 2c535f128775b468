"""An append-only local file for ledger items the database could not take in time.

Format: JSON lines, one item per line (``{"kind": "record", …}`` or ``{"kind": "bundle", …}``).

Several worker processes may share one spool file (the default path sits next to the
database), so every change to it happens under an exclusive ``flock`` on the file:

* :meth:`Spool.append` opens the path, locks it, checks that the path still names the inode it
  locked (a replayer may have moved it away meanwhile), starts a new line if the previous
  writer was cut off mid-line, and appends whole lines with one ``write``;
* :meth:`Spool.claim` moves the live file aside to ``<name>.replay-<random>`` under the same
  lock, so appends go on into a fresh file while the claimed one is replayed;
* a claimed file is replayed under its own non-blocking lock (a process that dies drops its
  locks, so its leftovers are replayed by the next process that looks) and removed when every
  line is in the database. When the database fails halfway, the lines not yet written are
  moved into a new claimed file, so that nothing is written twice.

Replay is at least once: a process killed between a committed batch and the removal of its
file replays that batch again. A torn line (cut off by a crash or a full disk) is skipped and
counted, never guessed at. ``fsync`` runs per batch of appends (:meth:`Spool.sync`), not per
line, so that spooling never waits for the disk in the event loop.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from .base import ConsentRecord

__all__ = ["Spool", "SpoolReader", "TextBundle", "decode_item", "encode_item"]

_REPLAY = ".replay-"
_PARTIAL = ".partial-"

if sys.platform == "win32":  # pragma: no cover

    def _flock(fd: int, *, blocking: bool) -> bool:
        """No advisory locks on Windows: there, one process per spool file."""
        return True

else:
    import fcntl

    def _flock(fd: int, *, blocking: bool) -> bool:
        """Lock ``fd`` exclusively; False when ``blocking`` is off and another holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class TextBundle:
    """Every text of a banner as shown, stored once under its hash."""

    hash: str
    texts: Mapping[str, Any]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def encode_item(item: ConsentRecord | TextBundle) -> bytes:
    """One spool line (with its newline) for a record or a bundle."""
    if isinstance(item, ConsentRecord):
        data: dict[str, Any] = {"kind": "record", **item.as_dict()}
    else:
        data = {
            "kind": "bundle",
            "hash": item.hash,
            "texts": item.texts,
            "created_at": item.created_at.astimezone(UTC).isoformat(),
        }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode_item(line: bytes) -> ConsentRecord | TextBundle:
    """The item of one spool line; ``ValueError`` when the line is torn or not an item."""
    try:
        data = json.loads(line)
        kind = data.pop("kind")
        created_at = datetime.fromisoformat(data.pop("created_at"))
        if kind == "bundle" and isinstance(data["texts"], dict):
            return TextBundle(hash=str(data["hash"]), texts=data["texts"], created_at=created_at)
        if kind == "record" and isinstance(data["granted"], list):
            data["granted"] = tuple(data["granted"])
            return ConsentRecord(created_at=created_at, **data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError("not a spool item") from exc
    raise ValueError("not a spool item")


def _open_locked(path: Path, flags: int, *, blocking: bool) -> int | None:
    """Open ``path`` and lock it, making sure the lock is on the file the path names now.

    Returns None when the file is gone (and ``flags`` do not create it) or, not blocking,
    when another holder has it.
    """
    while True:
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            return None
        try:
            if not _flock(fd, blocking=blocking):
                os.close(fd)
                return None
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            return fd
        # Moved or removed while we waited for the lock: start again on the new file.
        os.close(fd)
        if not flags & os.O_CREAT:
            return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolReader:
    """Reads the items of one claimed spool file, batch by batch, remembering how far it got."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self._file = file
        #: Bytes of the file whose items are known to be in the database.
        self.done = 0
        #: Torn or unreadable lines passed over, up to the last :meth:`commit`.
        self.skipped = 0
        self._end = 0
        self._read_skipped = 0

    def read(self, count: int) -> list[ConsentRecord | TextBundle]:
        """Up to ``count`` items after the last :meth:`commit`; empty at the end of the file."""
        self._file.seek(self.done)
        items: list[ConsentRecord | TextBundle] = []
        self._read_skipped = 0
        while len(items) < count:
            line = self._file.readline()
            if not line:
                break
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn line")
                items.append(decode_item(line))
            except ValueError:
                self._read_skipped += 1
        self._end = self._file.tell()
        return items

    def commit(self, *, unstorable: int = 0) -> None:
        """The items of the last :meth:`read` are in the database, but ``unstorable`` ones."""
        self.done = self._end
        self.skipped += self._read_skipped + unstorable

    def keep_rest(self) -> None:
        """Move what is not in the database yet into a new claimed file, so it is not repeated."""
        if self.done == 0:
            return
        self._file.seek(self.done)
        rest = self._file.read()
        if rest:
            partial = _sibling(_base(self.path), _PARTIAL)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)  # full IP addresses: private whatever the umask
                _write_all(fd, rest)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(partial, _sibling(_base(self.path), _REPLAY))
        self.path.unlink()

    def remove(self) -> None:
        """Every item of the file is in the database: delete it."""
        with suppress(FileNotFoundError):
            self.path.unlink()


def _sibling(path: Path, marker: str) -> Path:
    return path.with_name(f"{path.name}{marker}{secrets.token_hex(8)}")


def _base(claimed: Path) -> Path:
    return claimed.with_name(claimed.name.split(_REPLAY, 1)[0])


class Spool:
    """The spool file at ``path`` and the claimed files beside it (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, items: Iterable[ConsentRecord | TextBundle]) -> None:
        """Append the items as whole lines; raises ``OSError`` when the file cannot take them."""
        data = b"".join(encode_item(item) for item in items)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
        fd = _open_locked(self.path, flags, blocking=True)
        if fd is None:  # pragma: no cover - O_CREAT makes the file
            raise FileNotFoundError(self.path)
        try:
            size = os.fstat(fd).st_size
            # A writer cut off mid-line must not swallow our first line.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            _write_all(fd, data)
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Force appended lines (and the file's directory entry) to the disk."""
        _fsync_path(self.path)
        _fsync_path(self.path.parent)

    def claim(self) -> list[Path]:
        """Move the live file aside and list every claimed file waiting to be replayed."""
        fd = _open_locked(self.path, os.O_RDONLY, blocking=True)
        if fd is not None:
            try:
                if os.fstat(fd).st_size:
                    os.rename(self.path, _sibling(self.path, _REPLAY))
                else:
                    self.path.unlink()
            finally:
                os.close(fd)
        return sorted(self.path.parent.glob(f"{self.path.name}{_REPLAY}*"))

    @contextmanager
    def reader(self, path: Path) -> Iterator[SpoolReader | None]:
        """Lock a claimed file for replay; None when another process has it or it is gone."""
        fd = _open_locked(path, os.O_RDONLY, blocking=False)
        if fd is None:
            yield None
            return
        with os.fdopen(fd, "rb") as file:
            yield SpoolReader(path, file)
