"""Running blocking work off the GUI thread, with callbacks back on the GUI thread.

Every ``Library`` call the UI makes goes through ``BackgroundRunner.run``::

    runner.run(lambda ctx: library.search(query),
               on_success=show_page, on_failure=show_error)

The function runs on a ``QThreadPool`` worker; ``on_success(result)`` or
``on_failure(exc)`` then runs on the GUI thread, delivered by a queued signal
of one long-lived bridge object (workers never touch a widget or a per-task
QObject). Progress reports are coalesced: the worker stores the latest value
and the GUI thread receives it once per event-loop turn, so a chatty progress
callback cannot flood the event queue.

Results that arrive after the user changed their mind are dropped by the
callers with a ``Generation`` counter (see ``Generation``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from mediaapp.core.redact import redact
from mediaapp.failures import describe
from mediaapp.tasks import CancelToken

log = logging.getLogger(__name__)


class TaskContext:
    """What a background function receives: a cancel token and a progress reporter.

    ``cancel`` is the ``mediaapp.tasks.CancelToken`` the GUI sets when the
    user presses Cancel; pass it on to ``Library.import_paths``.
    ``progress(value)`` may be called any number of times from the worker;
    the GUI thread sees the latest value.
    """

    def __init__(self, task_id: int, cancel: CancelToken, report: Callable[[int, Any], None]):
        self.task_id = task_id
        self.cancel = cancel
        self._report = report

    @property
    def cancelled(self) -> bool:
        """True once the GUI asked the task to stop."""
        return self.cancel.cancelled

    def progress(self, value: Any) -> None:
        """Report progress (any object, e.g. an ``ImportProgress``); thread-safe, never blocks."""
        self._report(self.task_id, value)


class BackgroundTask(QObject):
    """The GUI-side handle of one background call (lives on the GUI thread).

    ``finished`` is emitted on the GUI thread after the success or failure
    callback ran. ``result`` / ``error`` hold the outcome once ``done``.
    """

    finished = Signal()

    def __init__(self, task_id: int, label: str, on_success, on_failure, on_progress, parent=None):
        super().__init__(parent)
        self.task_id = task_id
        self.label = label
        self.token = CancelToken()
        self.on_success = on_success
        self.on_failure = on_failure
        self.on_progress = on_progress
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._latest: Any = None
        self._progress_queued = False

    def cancel(self) -> None:
        """Ask the function to stop (it must poll ``ctx.cancel``); callbacks still run."""
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self.token.cancelled

    # called on the worker thread
    def _store_progress(self, value: Any) -> bool:
        with self._lock:
            self._latest = value
            if self._progress_queued:
                return False
            self._progress_queued = True
            return True

    # called on the GUI thread
    def _take_progress(self) -> tuple[bool, Any]:
        """(fresh, value): fresh is False when the latest value was already delivered."""
        with self._lock:
            fresh = self._progress_queued
            self._progress_queued = False
            return fresh, self._latest


class _Bridge(QObject):
    """Carries results from workers to the GUI thread (one per runner, created on the GUI thread)."""

    succeeded = Signal(int, object)
    failed = Signal(int, object)
    progressed = Signal(int)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[TaskContext], Any], ctx: TaskContext, bridge: _Bridge):
        super().__init__()
        self.fn = fn
        self.ctx = ctx
        self.bridge = bridge

    def run(self) -> None:  # worker thread
        try:
            result = self.fn(self.ctx)
        except BaseException as exc:
            exc.formatted_traceback = "".join(traceback.format_exception(exc))  # type: ignore[attr-defined]
            self.bridge.failed.emit(self.ctx.task_id, exc)
        else:
            self.bridge.succeeded.emit(self.ctx.task_id, result)
        finally:
            self.fn = None
            self.ctx = None


class BackgroundRunner(QObject):
    """Runs functions on a thread pool and calls back on the GUI thread.

    ``max_threads`` sizes the private ``QThreadPool`` (library calls are
    mostly SQLite reads, and an import mostly waits for its worker
    processes, so a few threads suffice). Create the runner on the GUI
    thread. ``taskFailed(label, message)`` is emitted for failures that had
    no ``on_failure`` callback.
    """

    taskFailed = Signal(str, str)
    idleChanged = Signal(bool)

    def __init__(self, max_threads: int = 4, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._bridge = _Bridge(self)
        self._bridge.succeeded.connect(self._on_succeeded, Qt.ConnectionType.QueuedConnection)
        self._bridge.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self._bridge.progressed.connect(self._on_progressed, Qt.ConnectionType.QueuedConnection)
        self._ids = itertools.count(1)
        self._tasks: dict[int, BackgroundTask] = {}
        self._tasks_lock = threading.Lock()

    def run(self, fn: Callable[[TaskContext], Any], on_success: Callable[[Any], None] | None = None,
            on_failure: Callable[[BaseException], None] | None = None,
            on_progress: Callable[[Any], None] | None = None, *, label: str = "") -> BackgroundTask:
        """Run ``fn(ctx)`` on a worker thread; return the task handle at once.

        ``fn`` receives a ``TaskContext``. ``on_success(result)``,
        ``on_failure(exception)`` and ``on_progress(value)`` run on the GUI
        thread. ``label`` names the task in failure messages. Never raises
        for errors in ``fn``: they go to ``on_failure`` (or ``taskFailed``).
        """
        task_id = next(self._ids)
        task = BackgroundTask(task_id, label or getattr(fn, "__name__", "task"), on_success, on_failure,
                              on_progress, self)
        with self._tasks_lock:
            was_idle = not self._tasks
            self._tasks[task_id] = task
        ctx = TaskContext(task_id, task.token, self._report_progress)
        self.pool.start(_Job(fn, ctx, self._bridge))
        if was_idle:
            self.idleChanged.emit(False)
        return task

    @property
    def idle(self) -> bool:
        """True when no task is running or waiting to deliver its result."""
        with self._tasks_lock:
            return not self._tasks

    def active_tasks(self) -> list[BackgroundTask]:
        """The tasks not finished yet (GUI thread)."""
        with self._tasks_lock:
            return list(self._tasks.values())

    def cancel_all(self) -> None:
        """Ask every running task to stop."""
        for task in self.active_tasks():
            task.cancel()

    def shutdown(self, msecs: int = 30000) -> bool:
        """Cancel everything and wait up to ``msecs`` ms for the workers; True if they all stopped.

        Pending callbacks are not delivered after this (the application is
        closing). Blocks the calling thread: use only when closing.
        """
        self.cancel_all()
        self.pool.clear()
        return self.pool.waitForDone(msecs)

    # -- worker side ----------------------------------------------------------------------------
    def _report_progress(self, task_id: int, value: Any) -> None:
        with self._tasks_lock:
            task = self._tasks.get(task_id)
        if task is not None and task._store_progress(value):
            self._bridge.progressed.emit(task_id)

    # -- GUI side -------------------------------------------------------------------------------
    @Slot(int)
    def _on_progressed(self, task_id: int) -> None:
        with self._tasks_lock:
            task = self._tasks.get(task_id)
        if task is None or task.done:
            return
        fresh, value = task._take_progress()
        if fresh and task.on_progress is not None:
            self._call(task, task.on_progress, value)

    @Slot(int, object)
    def _on_succeeded(self, task_id: int, result: Any) -> None:
        task = self._finish(task_id)
        if task is None:
            return
        task.result = result
        if task.on_success is not None:
            self._call(task, task.on_success, result)
        self._finished(task)

    @Slot(int, object)
    def _on_failed(self, task_id: int, exc: BaseException) -> None:
        task = self._finish(task_id)
        if task is None:
            return
        task.error = exc
        tb = getattr(exc, "formatted_traceback", "")
        if task.on_failure is not None:
            log.debug("background task %s failed:\n%s", task.label, tb)
            self._call(task, task.on_failure, exc)
        else:
            log.error("background task %s failed:\n%s", task.label, tb)
            # a full disk or a busy catalog in plain words; never a password inside a URL
            self.taskFailed.emit(task.label, redact(describe(exc)))
        self._finished(task)

    def _finish(self, task_id: int) -> BackgroundTask | None:
        with self._tasks_lock:
            task = self._tasks.get(task_id)
        if task is not None:
            task.done = True
            # deliver the last progress value first, so the bar ends where the work did
            fresh, value = task._take_progress()
            if fresh and task.on_progress is not None:
                self._call(task, task.on_progress, value)
        return task

    def _finished(self, task: BackgroundTask) -> None:
        with self._tasks_lock:
            self._tasks.pop(task.task_id, None)
            now_idle = not self._tasks
        task.finished.emit()
        task.on_success = task.on_failure = task.on_progress = None
        task.deleteLater()
        if now_idle:
            self.idleChanged.emit(True)

    def _call(self, task: BackgroundTask, fn: Callable, arg: Any) -> None:
        try:
            fn(arg)
        except Exception as exc:  # a bug in a callback must not kill the event loop
            log.exception("callback of background task %s failed", task.label)
            self.taskFailed.emit(task.label, redact(f"{type(exc).__name__}: {exc}"))


class Generation:
    """A counter that makes late results recognisable.

    ``bump()`` before starting work for a new request and keep the value;
    when the result arrives, ``is_current(value)`` says whether the request
    is still the newest. ``dropped`` counts results found stale (for tests
    and diagnostics).
    """

    def __init__(self) -> None:
        self.value = 0
        self.dropped = 0

    def bump(self) -> int:
        """Start a new request; returns its generation number."""
        self.value += 1
        return self.value

    def is_current(self, value: int) -> bool:
        """True if ``value`` is the newest generation; counts a drop otherwise."""
        if value == self.value:
            return True
        self.dropped += 1
        return False
