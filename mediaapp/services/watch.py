"""Watched folders: new, changed, moved and deleted files reach the catalog without a full rescan.

``FolderWatcher`` runs ``watchdog`` observers and one worker thread of its own:

- **Watches are per folder.** inotify(7) watches directories, never single
  files; watchdog's recursive inotify emitter adds one watch per folder of
  a tree (``inotify_watch_count`` counts them). One observer thread serves
  every root.
- **Polling where inotify cannot see.** inotify reports only the changes
  made through this machine's kernel, so a root on a network or FUSE file
  system (``NETWORK_FS``, looked up in ``/proc/self/mounts``) is polled
  with watchdog's ``PollingObserver`` (a snapshot of the tree's stat
  results every ``poll_interval_s``), as is every root when
  ``force_polling`` is set. When the kernel refuses more watches (ENOSPC,
  ``fs.inotify.max_user_watches``) or inotify instances (EMFILE), that
  tree is polled instead, with one message saying so and how to raise the limit.
- **Bursts are coalesced.** A file being copied fires many events. Each
  event only notes the path; the path is imported once its size and
  modification time have stayed the same for ``settle_s`` with no new
  event (a quiet-period debounce: one import per copy, never of half a file).
- **Import through the pipeline.** Settled files go to the ``Importer``
  (``Library.import_paths``: ``ImportPipeline.import_paths`` with the
  library's engines and folder rules, cached analyses and the search sync,
  then the sidecars of opted-in folders), ``IMPORT_CHUNK`` paths per call.
  A rename seen as one event (inotify's paired ``IN_MOVED_FROM`` /
  ``IN_MOVED_TO``) only updates the path (``Catalog.move_paths``): the
  asset keeps its sha256, analyses and faces, and no engine runs. A deleted
  file or folder is retired (``Catalog.remove_files``: the asset goes when
  its last path goes, its search document with it; its analyses stay
  cached). After moves and deletions the RAW+JPEG stacks of the folders
  involved are recomputed (``Importer.restack_folders``): a RAW whose JPEG
  went is a picture of its own again, a pair moved together stays one.
  A sidecar (``NAME.EXT.xmp``, ``NAME.xmp``) changed by another tool
  re-imports its image, which reads the sidecar again.
- **Reconcile.** At start, every ``reconcile_s`` seconds and whenever the
  kernel's event queue overflowed (``EventsLostEvent``), the roots are
  walked and compared with the catalog by size and mtime: anything an
  event missed (changes made while nothing watched) is imported or retired.
- **Ignored.** The library folder itself, hidden entries (``.name``, as
  ``mediaapp.ingest.scan`` skips them: ``.~tmp``, ``.x.swp``), partial
  downloads and editor temp files (``TEMP_SUFFIXES``), and every path the
  ``ignore`` predicate accepts (the sidecar writer's own writes).
- **Reported.** Each change is handed to ``on_change(WatchChange)`` on the
  watcher's thread (the GUI queues it to its own thread with a signal).
  A folder that cannot be read is reported once; the rest is watched.

The catalog is written only by this thread (through the pipeline and the
catalog's methods), never by watchdog's threads.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from mediaapp.paths import is_below
from mediaapp.tasks import CancelToken

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

    from mediaapp.catalog.db import Catalog
    from mediaapp.core.types import ImportReport
    from mediaapp.services.indexing import SearchSync

#: File system types (``/proc/self/mounts``, third field) whose changes inotify does not see (made on
#: another machine or by a user-space server): NFS, SMB/CIFS, sshfs and other FUSE, 9P (WSL, VMs),
#: virtiofs and VirtualBox shares, and cluster file systems. ``fuseblk`` (ntfs-3g, exFAT) is local.
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "fuse", "9p", "virtiofs", "vboxsf",
                        "ceph", "glusterfs", "lustre", "afs", "davfs", "ncpfs", "coda", "gpfs", "beegfs"})

#: Names of files still being written by a browser, a copier or an editor; never imported while so named.
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp", ".swx", "~")

#: Paths per ``ImportPipeline.import_paths`` call: its ``known_files`` query has two terms per path,
#: and SQLite's default expression depth limit (SQLITE_MAX_EXPR_DEPTH) is 1000.
IMPORT_CHUNK = 200

#: Sidecar extensions whose change by another tool re-imports the image they belong to.
SIDECAR_SUFFIX = ".xmp"


class Importer(Protocol):
    """What imports the watcher's files and keeps its RAW+JPEG stacks right: ``Library`` (``Library.import_paths``
    runs ``ImportPipeline.import_paths``, then writes the opted-in folders' sidecars)."""

    def import_paths(self, paths: Iterable[str | Path], *, cancel: CancelToken | None = None) -> ImportReport:
        """Import ``paths`` (files) with the library's engines; per-file problems in ``report.failed``."""
        ...

    def restack_folders(self, folders: Iterable[str | Path]) -> None:
        """Recompute the RAW+JPEG stacks of the files directly in ``folders`` (absolute) after files there
        moved or went, and index the change (``Library.restack_folders``)."""
        ...


@dataclass(frozen=True)
class WatchChange:
    """One change the watcher handled, for a front end to show.

    ``kind``: ``"added"`` (a new path in the catalog), ``"changed"`` (its
    bytes changed; imported again), ``"moved"`` (``path`` -> ``dest``,
    analyses kept), ``"removed"`` (retired from the catalog and the index),
    ``"failed"`` (``message`` says why; the file is recorded in the Errors
    panel) or ``"notice"`` (about the watch itself: polling fallback, an
    unreadable folder, a reconcile). ``sha256s``: the assets whose grid rows
    changed.
    """

    kind: str
    path: str
    dest: str | None = None
    message: str = ""
    sha256s: tuple[str, ...] = ()

    def line(self) -> str:
        """The change as one line of text (the ``mediaapp watch`` output)."""
        if self.kind == "moved":
            return f"moved    {self.path} -> {self.dest}"
        if self.kind in ("failed", "notice"):
            return f"{self.kind:<8} {self.path}: {self.message}" if self.path else f"{self.kind:<8} {self.message}"
        return f"{self.kind:<8} {self.path}"


def is_temp_name(name: str) -> bool:
    """True for a hidden entry (``.name``) or a temporary/partial file name (``TEMP_SUFFIXES``)."""
    lower = name.lower()
    return name.startswith(".") or lower.endswith(TEMP_SUFFIXES) or (lower.startswith("~$"))


_MOUNT_ESCAPE = re.compile(r"\\([0-7]{3})")


def mounts(table: str = "/proc/self/mounts") -> list[tuple[str, str]]:
    """``(mount point, fs type)`` of every mount in ``table`` (fstab(5) format, octal escapes such as ``\\040``)."""
    out: list[tuple[str, str]] = []
    try:
        with open(table, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3:
                    out.append((_MOUNT_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), parts[1]), parts[2]))
    except OSError:
        pass
    return out


def fs_type(path: str | Path, table: str = "/proc/self/mounts") -> str | None:
    """The file system type of the mount holding ``path`` (its longest mount point prefix), or None if unknown."""
    real = os.path.realpath(path)
    best, kind = -1, None
    for point, fstype in mounts(table):
        if (real == point or is_below(real, [point]) or point == "/") and len(point) > best:
            best, kind = len(point), fstype
    return kind


def needs_polling(fstype: str | None) -> bool:
    """True when inotify cannot see the changes of a file system of type ``fstype`` (``NETWORK_FS``, ``fuse.*``)."""
    if not fstype:
        return False
    return fstype in NETWORK_FS or fstype.split(".", 1)[0] in NETWORK_FS


def inotify_watch_count(pid: int | str = "self") -> int:
    """How many inotify watches process ``pid`` holds (``inotify wd:`` lines of ``/proc/PID/fdinfo``); 0 if unknown."""
    count = 0
    base = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    for name in names:
        try:
            with open(os.path.join(base, name), encoding="ascii", errors="replace") as fh:
                count += sum(1 for line in fh if line.startswith("inotify wd:"))
        except OSError:
            continue
    return count


def max_user_watches() -> int | None:
    """``fs.inotify.max_user_watches``: the inotify watches one user may hold in all (None if unknown)."""
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class _Pending:
    """A path with recent events: imported once ``state`` holds still for ``settle_s`` after ``last``."""

    last: float
    state: tuple[int, int] | None = None


@dataclass
class _Ops:
    """The worker's queue items: a file touched, something deleted or moved, a folder to scan, a reconcile."""

    kind: str
    path: str = ""
    dest: str = ""
    done: threading.Event | None = None


class _Inbox:
    """The watcher thread's queue, counting what was put in (``submitted``) so ``wait_idle`` has no race."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Ops] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.submitted = 0

    def put(self, op: _Ops) -> None:
        """Queue ``op`` (any thread)."""
        with self._lock:
            self.submitted += 1
            self._queue.put(op)

    def get(self, timeout: float) -> _Ops:
        """The next op; raises ``queue.Empty`` after ``timeout`` seconds."""
        return self._queue.get(timeout=timeout)

    def get_nowait(self) -> _Ops:
        """The next op if one waits; raises ``queue.Empty`` otherwise."""
        return self._queue.get_nowait()


class FolderWatcher:
    """Watch ``roots`` (folders) and keep the catalog in step with them (see the module doc).

    ``importer``, ``catalog``, ``search``: what imports (``Importer``: the
    library, or its pipeline), the catalog and the search sync; ``library_root``: the library folder (never imported);
    ``on_change``: called on the watcher's thread with each ``WatchChange``
    (must not block long; exceptions are not caught); ``ignore(path)``: True
    for paths this application wrote itself (e.g. the sidecar writer's
    ``is_own_write``); ``force_polling``: poll every root; ``reconcile_s``:
    seconds between reconcile scans (0: none after the first);
    ``reconcile_at_start``: walk the roots once when starting (imports what
    changed while nothing watched); ``on_stopped(watcher)``: called once when
    it has stopped (its thread ended, or ``stop`` before ``start``; the
    library forgets it then); ``settle_s``: how long a file's size
    and mtime must hold still before it is imported; ``poll_interval_s``:
    the polling observer's snapshot interval. ``start`` returns at once;
    ``wait_ready`` waits for the watches to be in place. Raises nothing for
    unreadable or missing roots: each is reported as a ``notice``.
    """

    def __init__(self, roots: Iterable[str | Path], *, importer: Importer, catalog: Catalog,
                 search: SearchSync, library_root: str | Path, on_change: Callable[[WatchChange], None],
                 ignore: Callable[[Path], bool] | None = None, force_polling: bool = False,
                 reconcile_s: float = 600.0, reconcile_at_start: bool = True, settle_s: float = 1.0,
                 poll_interval_s: float = 5.0, on_stopped: Callable[[FolderWatcher], None] | None = None):
        self.roots = list(dict.fromkeys(os.path.abspath(os.path.expanduser(os.fspath(r))) for r in roots))
        self.importer = importer
        self.catalog = catalog
        self.search = search
        self.library_root = os.path.abspath(os.fspath(library_root))
        self.on_change = on_change
        self.ignore = ignore or (lambda path: False)
        self.force_polling = force_polling
        self.reconcile_s = reconcile_s
        self.reconcile_at_start = reconcile_at_start
        self.settle_s = settle_s
        self.poll_interval_s = poll_interval_s
        #: Root -> how it is watched: ``"inotify"``, ``"polling"`` or ``"unwatched"`` (missing, unreadable).
        self.modes: dict[str, str] = {}
        #: Folders found below the roots at start (each one inotify watch), and those that cannot be read.
        self.folder_count = 0
        self.unreadable: list[str] = []
        self._queue = _Inbox()
        self._handled = 0  # ops the watcher's thread finished (compared with _queue.submitted)
        self._reconcile_waiters: list[threading.Event] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._idle = threading.Event()
        self._cancel = CancelToken()
        self._pending: dict[str, _Pending] = {}
        self._offered: dict[str, tuple[int, int]] = {}  # not catalogued after an import try: don't offer again
        self._reported: set[str] = set()
        self._observers: list[BaseObserver] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._on_stopped = on_stopped
        self._stopped_told = threading.Event()
        #: Root -> (st_dev, is a mount point) when last seen holding files: a change means another drive (or none).
        self._root_dev: dict[str, tuple[int, bool]] = {}
        self._held: dict[str, str] = {}  # roots that look unmounted -> why (reported once until they come back)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the watcher's thread (it places the watches, reconciles, then follows the events)."""
        if self._thread is not None:
            raise RuntimeError("this watcher was already started")
        self._thread = threading.Thread(target=self._run, name="mediaapp-watch", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every root is watched (or reported as not watchable); False on timeout."""
        return self._ready.wait(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every event so far was handled and nothing waits to be imported; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._idle.is_set() and (self._handled == self._queue.submitted or not self.running) \
                    and not self._pending:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def reconcile_now(self) -> threading.Event:
        """Ask the watcher's thread for a reconcile scan of every root; the event is set once it is done."""
        done = threading.Event()
        self._queue.put(_Ops("reconcile", done=done))
        return done

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the observers and the thread (a running import is cancelled between files); idempotent."""
        self._stop.set()
        self._cancel.cancel()
        self._queue.put(_Ops("wake"))
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._stop_observers()
        if self._thread is None:  # never started: no thread will tell
            self._tell_stopped()

    def _tell_stopped(self) -> None:
        """Call ``on_stopped(self)`` the first time only."""
        if self._on_stopped is not None and not self._stopped_told.is_set():
            self._stopped_told.set()
            self._on_stopped(self)

    @property
    def running(self) -> bool:
        """True while the watcher's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the watcher's thread (e.g. the catalog became unwritable), or None."""
        return self._error

    # -- filters -----------------------------------------------------------------------------
    def skipped(self, path: str) -> bool:
        """True for a path the watcher never imports: in the library folder, hidden or temporary, or ``ignore``d."""
        return self._excluded(path) or bool(self.ignore(Path(path)))

    def _excluded(self, path: str) -> bool:
        """``skipped`` by its name alone (no ``ignore`` call, no I/O): the library folder, hidden or temporary."""
        if path == self.library_root or is_below(path, [self.library_root]):
            return True
        root = next((r for r in self.roots if path == r or is_below(path, [r])), None)
        rel = os.path.relpath(path, root) if root else os.path.basename(path)
        return any(is_temp_name(part) for part in rel.split(os.sep) if part not in ("", "."))

    # -- the watcher's thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._place_watches()
            self._ready.set()
            if self.reconcile_at_start:
                self._reconcile()
            next_reconcile = time.monotonic() + self.reconcile_s if self.reconcile_s > 0 else float("inf")
            while not self._stop.is_set():
                if self._pending:
                    self._idle.clear()
                else:
                    self._idle.set()
                try:
                    first = self._queue.get(timeout=0.2 if self._pending else 1.0)
                except queue.Empty:
                    first = None
                self._idle.clear()
                ops = [first] if first is not None else []
                while True:
                    try:
                        ops.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                reconcile = self._apply(ops)
                if self._stop.is_set():
                    break
                self._import_settled()
                if reconcile or time.monotonic() >= next_reconcile:
                    self._reconcile()
                    next_reconcile = time.monotonic() + self.reconcile_s if self.reconcile_s > 0 else float("inf")
                    waiters, self._reconcile_waiters = self._reconcile_waiters, []
                    for done in waiters:
                        done.set()
                self._handled += len(ops)
        except BaseException as exc:  # the catalog became unusable: report it, stop watching
            self._error = exc
            self._emit(WatchChange("notice", "", message=f"stopped watching: {exc}"))
        finally:
            self._ready.set()
            self._idle.set()
            for done in self._reconcile_waiters:
                done.set()
            self._stop_observers()
            self._tell_stopped()

    def _emit(self, change: WatchChange) -> None:
        self.on_change(change)

    def _notice(self, path: str, message: str) -> None:
        """Report ``message`` about ``path`` once per watcher."""
        key = f"{path}\0{message}"
        if key not in self._reported:
            self._reported.add(key)
            self._emit(WatchChange("notice", path, message=message))

    # -- watches -------------------------------------------------------------------------------
    def _place_watches(self) -> None:
        """Schedule each root on the inotify or the polling observer (see the module doc)."""
        from watchdog.observers.inotify import InotifyObserver
        from watchdog.observers.polling import PollingObserver

        handler = _Handler(self._queue)
        inotify: InotifyObserver | None = None
        polling: PollingObserver | None = None
        limit = max_user_watches()
        for root in self.roots:
            if not os.path.isdir(root):
                self.modes[root] = "unwatched"
                self._notice(root, "not a folder that exists; not watched")
                continue
            folders = self._count_folders(root)
            self.folder_count += folders
            fstype = fs_type(root)
            reason = None
            if self.force_polling:
                reason = "polling is set in the settings"
            elif needs_polling(fstype):
                reason = f"a {fstype} share: inotify does not see changes made on other machines"
            elif limit is not None and inotify_watch_count() + folders > limit:
                reason = (f"{folders} folders exceed the free inotify watches (fs.inotify.max_user_watches = {limit};"
                          " raise it with: sudo sysctl fs.inotify.max_user_watches=524288)")
            if reason is None:
                try:
                    if inotify is None:
                        inotify = InotifyObserver()
                        inotify.start()
                        self._observers.append(inotify)
                    inotify.schedule(handler, root, recursive=True, event_filter=_handler_filter())
                    self.modes[root] = "inotify"
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                        raise
                    reason = (f"{exc.strerror or exc} (fs.inotify.max_user_watches = {limit}; raise it with:"
                              " sudo sysctl fs.inotify.max_user_watches=524288)")
            if polling is None:
                polling = PollingObserver(timeout=self.poll_interval_s)
                polling.start()
                self._observers.append(polling)
            polling.schedule(handler, root, recursive=True, event_filter=_handler_filter())
            self.modes[root] = "polling"
            self._notice(root, f"polling every {self.poll_interval_s:g} s: {reason}")

    def _count_folders(self, root: str) -> int:
        """Folders below ``root`` (watchdog watches each), reporting each one that cannot be listed once."""
        count = 0
        stack = [root]
        while stack:
            folder = stack.pop()
            count += 1
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(entry.path)
                        except OSError:
                            continue
            except OSError as exc:
                self._unreadable(folder, exc)
        return count

    def _unreadable(self, folder: str, exc: OSError) -> None:
        if folder not in self.unreadable:
            self.unreadable.append(folder)
        self._notice(folder, f"cannot be read ({exc.strerror or exc}); not watched, the rest is")

    def _stop_observers(self) -> None:
        observers, self._observers = self._observers, []
        for observer in observers:
            observer.stop()
        for observer in observers:
            if observer is not threading.current_thread():
                observer.join(10)

    # -- events --------------------------------------------------------------------------------
    def _apply(self, ops: list[_Ops]) -> bool:
        """Apply queued events in order; returns True when a reconcile was asked for."""
        reconcile = False
        now = time.monotonic()
        removed: list[str] = []
        moves: list[tuple[str, str]] = []

        def flush() -> None:
            if moves:
                self._move(moves)
                moves.clear()
            if removed:
                self._remove(removed)
                removed.clear()

        for op in ops:
            if op.kind == "reconcile":
                reconcile = True
                if op.done is not None:
                    self._reconcile_waiters.append(op.done)
            elif op.kind == "touch":
                if not self.skipped(op.path):
                    self._pending[op.path] = _Pending(now)
            elif op.kind == "scan":  # a folder appeared (created, or moved in from outside)
                if not self.skipped(op.path):
                    for path in self._walk_files(op.path):
                        self._pending.setdefault(path, _Pending(now))
            elif op.kind == "delete":
                for path in [p for p in self._pending if p == op.path or is_below(p, [op.path])]:
                    del self._pending[path]
                if not self.skipped(op.path):
                    removed.append(op.path)
            elif op.kind == "move":
                src_ok, dst_ok = not self.skipped(op.path), not self.skipped(op.dest)
                for path in [p for p in self._pending if p == op.path or is_below(p, [op.path])]:
                    del self._pending[path]
                    if dst_ok:
                        self._pending[op.dest + path[len(op.path):]] = _Pending(now)
                if src_ok and dst_ok:
                    flush() if removed else None
                    moves.append((op.path, op.dest))
                elif src_ok:
                    removed.append(op.path)
                elif dst_ok:
                    self._queue.put(_Ops("scan" if os.path.isdir(op.dest) else "touch", op.dest))
        flush()
        return reconcile

    def _move(self, moves: list[tuple[str, str]]) -> None:
        """Rename catalogued paths; a move the catalog did not know (not imported yet) is imported at its new path."""
        changed = self.catalog.move_paths(moves)
        folders: set[str] = set()  # where a RAW+JPEG pair may have been split, joined or carried: restacked
        for src, dst in moves:
            known = self.catalog.known_files(under=[dst])
            folders |= {os.path.dirname(src), os.path.dirname(dst), *(os.path.dirname(p) for p in known)}
            if known:
                self._emit(WatchChange("moved", src, dst, sha256s=tuple(dict.fromkeys(v[2] for v in known.values()))))
            elif os.path.isdir(dst):
                self._queue.put(_Ops("scan", dst))
            else:
                self._pending.setdefault(dst, _Pending(time.monotonic()))
        if changed:
            self.importer.restack_folders(sorted(folders))
            self.search.update(changed)

    def _remove(self, paths: list[str]) -> None:
        """Retire the catalogued files at or below ``paths`` (files or folders that are gone).

        Nothing is retired below a root that is missing, unreadable or on
        another device now (``_root_unavailable``): a drive was unmounted,
        not its files deleted; the next reconcile looks again.
        """
        held = [r for r in self.roots if any(is_below(p, [r]) or is_below(r, [p]) for p in paths)
                and self._hold(r, self._root_unavailable(r, knows_files=False))]
        paths = [p for p in paths if not is_below(p, held)]
        gone: dict[str, str] = {}
        for i in range(0, len(paths), IMPORT_CHUNK):
            known = self.catalog.known_files(under=paths[i:i + IMPORT_CHUNK])
            gone.update((p, v[2]) for p, v in known.items() if not os.path.exists(p))
        self._retire(gone)

    def _retire(self, gone: dict[str, str]) -> None:
        """Remove the paths ``gone`` (path -> sha256) from the catalog and the index, and report each."""
        if not gone:
            return
        self.catalog.remove_files(list(gone))
        self.importer.restack_folders(sorted({os.path.dirname(p) for p in gone}))  # a pair's partner is left alone
        self.search.sync()
        for path in sorted(gone):
            self._emit(WatchChange("removed", path, sha256s=(gone[path],)))

    def _import_settled(self) -> None:
        """Import every pending file whose size and mtime held still for ``settle_s``."""
        now = time.monotonic()
        ready: list[str] = []
        for path, pending in list(self._pending.items()):
            if now - pending.last < self.settle_s and pending.state is not None:
                continue
            try:
                st = os.stat(path)
            except OSError:
                del self._pending[path]  # gone again (a temp file), or unreadable: the delete event says the rest
                continue
            if not os.path.isfile(path):
                del self._pending[path]
                continue
            state = (st.st_size, st.st_mtime_ns)
            if state != pending.state:
                pending.state, pending.last = state, now  # still changing: wait another settle_s
                continue
            if now - pending.last >= self.settle_s:
                del self._pending[path]
                ready.append(path)
        if ready:
            self._import(ready)

    def _import(self, paths: list[str]) -> None:
        """Import ``paths`` through the pipeline, ``IMPORT_CHUNK`` at a time, and report each."""
        files: list[str] = []
        for path in paths:
            if path.lower().endswith(SIDECAR_SUFFIX):
                files += _images_of_sidecar(path)
            else:
                files.append(path)
        files = [p for p in dict.fromkeys(files) if not self.skipped(p)]
        for i in range(0, len(files), IMPORT_CHUNK):
            if self._stop.is_set():
                return
            chunk = files[i:i + IMPORT_CHUNK]
            before = {p: self.catalog.sha_for_path(p) for p in chunk}
            report = self.importer.import_paths(chunk, cancel=self._cancel)
            failed = {p.path: p for p in report.failed}
            for path in chunk:
                sha = self.catalog.sha_for_path(path)
                if sha is None:
                    try:
                        st = os.stat(path)
                        self._offered[path] = (st.st_size, st.st_mtime_ns)
                    except OSError:
                        pass
                    if path in failed:
                        self._emit(WatchChange("failed", path, message=failed[path].message))
                    continue
                self._offered.pop(path, None)
                if before[path] is None:
                    self._emit(WatchChange("added", path, sha256s=(sha,)))
                elif before[path] != sha:
                    self._emit(WatchChange("changed", path, sha256s=(before[path] or "", sha)))
                elif path in failed:
                    self._emit(WatchChange("failed", path, message=failed[path].message, sha256s=(sha,)))
                else:
                    self._emit(WatchChange("changed", path, sha256s=(sha,)))  # e.g. its sidecar was edited

    # -- reconcile -----------------------------------------------------------------------------
    def _walk_files(self, root: str, on_error: Callable[[str, OSError], None] | None = None) -> Iterator[str]:
        """Regular files below ``root`` not ``_excluded`` by name (``ignore`` is asked later), folders once each."""
        seen: set[tuple[int, int]] = set()
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                st = os.stat(folder)
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError as exc:
                if on_error is not None:
                    on_error(folder, exc)
                continue
            for entry in entries:
                if self._excluded(entry.path):
                    continue
                try:
                    if entry.is_dir():
                        stack.append(entry.path)
                    elif entry.is_file():
                        yield entry.path
                except OSError:
                    continue

    def _root_unavailable(self, root: str, knows_files: bool) -> str | None:
        """Why ``root`` looks unmounted (one phrase), or None when its files can be trusted to be gone.

        Missing, unreadable, empty while the catalog ``knows_files`` below it,
        or on another device (``st_dev``) / no longer a mount point
        (``os.path.ismount``) than when it was last seen holding files. An
        unmounted drive leaves an empty (or foreign) mount point behind; its
        files must not be retired from the catalog.
        """
        if not os.path.isdir(root):
            return "is missing"
        try:
            st = os.stat(root)
            with os.scandir(root) as it:
                empty = next(it, None) is None
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        if empty and knows_files:
            return "is empty"
        seen = self._root_dev.get(root)
        now = (st.st_dev, os.path.ismount(root))
        if seen is not None and seen[0] != now[0]:
            return "is on another device than before"
        if seen is not None and seen[1] and not now[1]:
            return "is no longer a mount point"
        if not empty:
            self._root_dev[root] = now
        return None

    def _hold(self, root: str, reason: str | None) -> bool:
        """Note whether ``root`` is held back (``reason``); report once each time it starts looking unmounted."""
        if reason is None:
            self._held.pop(root, None)
            return False
        if root not in self._held:
            self._emit(WatchChange("notice", root, message=f"{reason}: looks unmounted; nothing retired"
                                                           " (looked at again at the next reconcile)"))
        self._held[root] = reason
        return True

    def _reconcile(self) -> None:
        """Compare the roots with the catalog by size and mtime; import what changed, retire what is gone.

        A root that looks unmounted (``_root_unavailable``) is skipped whole:
        none of its files is retired, one notice says so.
        """
        known = self.catalog.known_files(under=self.roots) if self.roots else {}
        roots: list[str] = []
        for root in self.roots:
            knows = any(is_below(p, [root]) for p in known)
            reason = self._root_unavailable(root, knows_files=knows)
            if reason is None or not knows:  # nothing catalogued there: nothing to hold back, nothing to say
                self._held.pop(root, None)
                if reason is None:
                    roots.append(root)
            else:
                self._hold(root, reason)
        if not roots:
            return
        known = {p: v for p, v in known.items() if is_below(p, roots)}
        unreadable: list[str] = []

        def on_error(folder: str, exc: OSError) -> None:
            unreadable.append(folder)
            self._unreadable(folder, exc)

        todo: list[str] = []
        seen: set[str] = set()
        for root in roots:
            for path in self._walk_files(root, on_error):
                seen.add(path)
                if path in self._pending:
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                state = (st.st_size, st.st_mtime_ns)
                old = known.get(path)
                if (old is not None and old[:2] == state) or self._offered.get(path) == state:
                    continue
                if not self.ignore(Path(path)):  # asked only of what changed: it may cost a stat and a query
                    todo.append(path)
            if self._stop.is_set():
                return
        gone = {p: v[2] for p, v in known.items() if p not in seen and not self.skipped(p)
                and not is_below(p, unreadable) and not os.path.exists(p)}
        self._retire(gone)
        if todo:
            self._import(todo)


def _images_of_sidecar(path: str) -> list[str]:
    """The images a sidecar belongs to: ``A.EXT`` for ``A.EXT.xmp``, else every ``A.*`` beside ``A.xmp``."""
    base = path[: -len(SIDECAR_SUFFIX)]
    if os.path.splitext(base)[1] and os.path.isfile(base):
        return [base]
    folder, stem = os.path.split(base)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return [os.path.join(folder, n) for n in sorted(names)
            if os.path.splitext(n)[0] == stem and not n.lower().endswith(SIDECAR_SUFFIX)]


def _handler_filter() -> list[type[FileSystemEvent]]:
    """The watchdog event classes the watcher needs: no open/close-nowrite (our own reads would fire them)."""
    return [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
            DirCreatedEvent, DirDeletedEvent, DirMovedEvent, EventsLostEvent]


class _Handler(FileSystemEventHandler):
    """watchdog's event handler: turns each event into queue items for the watcher's thread (no I/O here).

    Runs on watchdog's dispatcher thread; ``dispatch`` is the method
    watchdog's observer calls on a handler.
    """

    def __init__(self, out: _Inbox):
        super().__init__()
        self.out = out

    def dispatch(self, event: FileSystemEvent) -> None:
        """Queue ``event`` (see ``_handler_filter`` for the classes that arrive)."""
        src = os.fsdecode(event.src_path)
        if isinstance(event, EventsLostEvent):
            self.out.put(_Ops("reconcile"))
        elif event.event_type == EVENT_TYPE_MOVED:
            if not event.is_synthetic:  # sub-moves of a moved folder are covered by the folder's own move
                self.out.put(_Ops("move", src, os.fsdecode(event.dest_path)))
        elif event.event_type == EVENT_TYPE_DELETED:
            if not event.is_synthetic:
                self.out.put(_Ops("delete", src))
        elif event.is_directory:
            if event.event_type == EVENT_TYPE_CREATED:
                self.out.put(_Ops("scan", src))
        elif event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED):
            self.out.put(_Ops("touch", src))
