"""Claims on analysis work, so two imports running at once never pay for the same answer twice.

Before an import sends an image to an engine it claims each (sha256, API,
engine) it is about to ask for (``AnalysisClaims.claim``), in one catalog
transaction. A pair another live import has claimed is left to that import;
only the pairs this import won are analysed, and its claims are released
when its run of that engine ends (``release``). While it runs, the import
refreshes its claims (``touch``). A claim outlives a crash, so a claim is
*stale*, and may be taken over, when its owner's process is gone: on the
same host, no process has its pid, or the process holding that pid now
started at another time (a pid reused after a reboot or a crash; Linux
``/proc/<pid>/stat`` start time with the boot id); on another host, the
claim was not refreshed for ``STALE_AFTER_S``.

Table ``analysis_claims`` (catalog migration 7): ``(sha256, api, engine)``
primary key, ``owner`` (``Claimant.token``), ``host``, ``pid``, ``started``
(the process's start, or NULL where unknown), ``claimed_at`` (Unix seconds,
refreshed by ``touch``).
"""

from __future__ import annotations

import errno
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from mediaapp.dbpool import ConnectionPool, chunks

#: Seconds without a refresh after which a claim of a process on another host may be taken over. An
#: import refreshes its claims at least every ``TOUCH_EVERY_S`` while it works, so an hour of silence
#: means a crash there.
STALE_AFTER_S = 3600

#: How often (seconds) a working import refreshes its claims (``AnalysisClaims.touch``).
TOUCH_EVERY_S = 60

#: One unit of analysis work: (sha256, Rekognition operation name, engine name).
Pair = tuple[str, str, str]


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as ``"<boot id>:<ticks since boot>"`` (Linux ``/proc``), or None.

    None where ``/proc`` does not tell (another system) or no such process
    exists. Two processes that held the same pid at different times give
    different values. Never raises.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": field 3 (state) onwards
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None  # field 22 of proc(5): starttime


def _alive(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` exists on this host and is the one that started at ``started`` (when known)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno != errno.EPERM:  # EPERM: a process of another user, alive
            return False
    return started is None or process_start(pid) in (None, started)


@dataclass(frozen=True)
class Claimant:
    """Who claims: this process on this host (``pid``, ``started``), with a ``token`` unique to one import run."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: str | None = field(default_factory=lambda: process_start(os.getpid()))
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


class AnalysisClaims:
    """The claims table of the catalog whose connections ``pool`` owns (``Catalog.claims``); thread-safe."""

    def __init__(self, pool: ConnectionPool):
        self._pool = pool

    def claim(self, claimant: Claimant, pairs: Iterable[Pair]) -> set[Pair]:
        """Claim ``pairs`` for ``claimant``; returns those it holds now (new, its own, or taken over when stale).

        One write transaction. Pairs held by another live claimant are not
        returned: that import analyses them.
        """
        wanted = list(dict.fromkeys(pairs))
        won: set[Pair] = set()
        if not wanted:
            return won
        now = time.time()
        with self._pool.write() as conn:
            for chunk in chunks(wanted, 300):
                marks = ",".join("(?,?,?)" for _ in chunk)
                flat = [value for pair in chunk for value in pair]
                held = conn.execute(
                    f"SELECT sha256, api, engine, owner, host, pid, started, claimed_at FROM analysis_claims"
                    f" WHERE (sha256, api, engine) IN (VALUES {marks})", flat).fetchall()
                others: set[Pair] = set()
                for sha, api, engine, owner, host, pid, started, claimed_at in held:
                    if owner == claimant.token:
                        continue
                    if host == claimant.host:
                        stale = not _alive(pid, started)
                    else:
                        stale = now - claimed_at > STALE_AFTER_S
                    if not stale:
                        others.add((sha, api, engine))
                mine = [pair for pair in chunk if pair not in others]
                conn.executemany(
                    "INSERT INTO analysis_claims (sha256, api, engine, owner, host, pid, started, claimed_at)"
                    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (sha256, api, engine) DO UPDATE SET"
                    " owner = excluded.owner, host = excluded.host, pid = excluded.pid,"
                    " started = excluded.started, claimed_at = excluded.claimed_at",
                    [(*pair, claimant.token, claimant.host, claimant.pid, claimant.started, now) for pair in mine])
                won.update(mine)
        return won

    def touch(self, claimant: Claimant) -> None:
        """Refresh the time of every claim ``claimant`` holds (it is still working on them)."""
        with self._pool.write() as conn:
            conn.execute("UPDATE analysis_claims SET claimed_at = ? WHERE owner = ?", (time.time(), claimant.token))

    def release(self, claimant: Claimant, pairs: Iterable[Pair] | None = None) -> None:
        """Drop ``claimant``'s claims on ``pairs`` (None: all of them); others' claims are untouched."""
        with self._pool.write() as conn:
            if pairs is None:
                conn.execute("DELETE FROM analysis_claims WHERE owner = ?", (claimant.token,))
                return
            conn.executemany("DELETE FROM analysis_claims WHERE sha256 = ? AND api = ? AND engine = ? AND owner = ?",
                             [(*pair, claimant.token) for pair in dict.fromkeys(pairs)])

    def holders(self) -> dict[Pair, str]:
        """Every current claim: pair -> owner token (for tests and diagnostics)."""
        with self._pool.read() as conn:
            return {(r[0], r[1], r[2]): r[3] for r in conn.execute(
                "SELECT sha256, api, engine, owner FROM analysis_claims")}
