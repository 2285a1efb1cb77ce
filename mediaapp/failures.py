"""The one place catalog and index failures are sorted into known conditions, each with words for people.

SQLite and the file system fail in a handful of ways a user can act on: the
database is busy (another program holds it), the disk is full, the file is not
a database (or is damaged), it is read-only, or it cannot be opened at all.
``classify`` names the condition from the exception itself (SQLite's result
code, ``sqlite3.Error.sqlite_errorcode``, see https://sqlite.org/rescode.html,
or the ``OSError``'s ``errno``), never from its English text; anything else is
a bug and ``classify`` returns None, so callers let it surface with its
traceback. The CLI prints ``describe``'s sentence and exits 1; the GUI shows
it. Compare qutebrowser's ``misc/sql.py``, which sorts SQLite errors the same
way into "known" ones and bugs.
"""

from __future__ import annotations

import enum
import errno
import sqlite3
from dataclasses import dataclass

__all__ = ["Condition", "KnownFailure", "classify", "describe"]


class Condition(enum.Enum):
    """A failure a user can act on; the value is the short name shown in logs."""

    BUSY = "busy"
    DISK_FULL = "disk full"
    NOT_A_DATABASE = "not a database"
    READ_ONLY = "read-only"
    CANNOT_OPEN = "cannot open"


#: What the user reads for each condition (the file name is added in front).
ADVICE = {
    Condition.BUSY: "is busy: another mediaapp (or another program) is writing to it; try again when it is done",
    Condition.DISK_FULL: "cannot be written: the disk is full; free some space and try again "
                         "(nothing already stored was lost)",
    Condition.NOT_A_DATABASE: "is not a mediaapp database, or it is damaged; move it aside (the search index "
                              "is rebuilt by 'mediaapp reindex', the catalog from a backup)",
    Condition.READ_ONLY: "is read-only: check the folder's permissions, or whether the disk is mounted read-only",
    Condition.CANNOT_OPEN: "cannot be opened: check that the folder exists and that you may write to it",
}

#: SQLite primary result codes (https://sqlite.org/rescode.html) -> condition.
_SQLITE_CODES = {
    5: Condition.BUSY,              # SQLITE_BUSY
    6: Condition.BUSY,              # SQLITE_LOCKED
    13: Condition.DISK_FULL,        # SQLITE_FULL
    26: Condition.NOT_A_DATABASE,   # SQLITE_NOTADB
    11: Condition.NOT_A_DATABASE,   # SQLITE_CORRUPT
    8: Condition.READ_ONLY,         # SQLITE_READONLY
    14: Condition.CANNOT_OPEN,      # SQLITE_CANTOPEN
}

#: ``errno`` values -> condition.
_ERRNOS = {
    errno.ENOSPC: Condition.DISK_FULL,
    errno.EDQUOT: Condition.DISK_FULL,
    errno.EROFS: Condition.READ_ONLY,
    errno.EACCES: Condition.READ_ONLY,
    errno.EPERM: Condition.READ_ONLY,
}


@dataclass(frozen=True, slots=True)
class KnownFailure:
    """A failure sorted into ``condition``; ``message`` is the sentence for the user (names ``what``)."""

    condition: Condition
    message: str


def classify(exc: BaseException, what: str = "the library") -> KnownFailure | None:
    """Sort ``exc`` (raised while using ``what``, e.g. "the catalog /lib/catalog.sqlite") into a known condition.

    Follows ``__cause__`` / ``__context__`` so a wrapped SQLite or OS error
    (``SearchUnavailableError`` from an ``OperationalError``) is found too.
    Returns None for anything else: a bug. Never raises.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        condition = _condition(current)
        if condition is not None:
            return KnownFailure(condition, f"{what} {ADVICE[condition]}")
        current = current.__cause__ or current.__context__
    return None


def describe(exc: BaseException, what: str = "the library") -> str:
    """``classify``'s message, or the exception's own text (with its type when it has none)."""
    known = classify(exc, what)
    return known.message if known else (str(exc) or type(exc).__name__)


def _condition(exc: BaseException) -> Condition | None:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)  # set by Python 3.11+ on errors SQLite reported
        if isinstance(code, int):
            return _SQLITE_CODES.get(code & 0xFF)
        return None
    if isinstance(exc, OSError) and exc.errno is not None:
        return _ERRNOS.get(exc.errno)
    return None
