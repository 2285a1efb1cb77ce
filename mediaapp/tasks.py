"""Running many independent tasks on worker processes or threads, with cancel.

Used by the import pipeline for both stages (ingest and analysis). Tasks are
submitted a few at a time (so cancel is prompt and memory stays flat) and
results are handed back in the calling thread, which alone writes to the
catalog. A worker process that dies (a native crash in a decoder or model)
fails only the task it was running: the pool is rebuilt and the rest goes on.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

#: Tasks kept in flight per worker: enough to keep workers busy, few enough to cancel fast.
IN_FLIGHT_PER_WORKER = 2


class CancelToken:
    """A flag the UI or CLI sets to stop long work; checked between tasks.

    A token made with ``parent`` is also cancelled when its parent is, while
    cancelling it leaves the parent alone: one stage can stop (a budget
    reached) without stopping the whole run.
    """

    def __init__(self, parent: CancelToken | None = None) -> None:
        self._event = threading.Event()
        self._parent = parent

    def cancel(self) -> None:
        """Ask the work to stop at the next task boundary."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` was called on this token or on its parent."""
        return self._event.is_set() or (self._parent is not None and self._parent.cancelled)


#: Environment variable giving each onnxruntime session its intra-op thread count (read by the
#: local analysers); the user may set it, otherwise worker processes get their share of the cores.
ORT_THREADS_ENV = "MEDIAAPP_ORT_THREADS"


def init_worker(threads: int = 1) -> None:
    """Worker-process start-up: ``threads`` inference threads per process.

    The pool itself fills the cores (one process per core), so each
    process's numeric libraries (OpenMP, OpenBLAS, onnxruntime) get an even
    share instead of all starting one thread per core and oversubscribing
    them. Variables the user already set are kept.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", ORT_THREADS_ENV):
        os.environ.setdefault(var, str(max(1, threads)))


class WorkerPool:
    """A lazily started process pool (spawn start method) plus thread pools on demand.

    ``workers`` defaults to the number of cores. The spawn start method is
    used on every platform so workers never inherit Qt or SQLite state.
    """

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._processes: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def processes(self) -> ProcessPoolExecutor:
        """The shared process pool, started on first use."""
        with self._lock:
            if self._processes is None:
                ctx = multiprocessing.get_context("spawn")
                share = max(1, (os.cpu_count() or 1) // self.workers)
                self._processes = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                                      initargs=(share,))
            return self._processes

    def _discard_pool(self, pool: Executor) -> None:
        """Forget ``pool`` (broken) if it is still the current one; the next task starts a new pool."""
        with self._lock:
            if self._processes is pool:
                self._processes.shutdown(wait=False, cancel_futures=True)
                self._processes = None

    def _kill_pool(self, pool: Executor) -> None:
        """Kill the worker processes of ``pool`` (a task in it hangs) and forget the pool.

        ``concurrent.futures`` has no public way to stop a running task
        before Python 3.14's ``ProcessPoolExecutor.kill_workers``; the
        executor's process table is read where that method is missing. The
        other tasks in flight then fail with ``BrokenProcessPool`` and are
        re-run one at a time, as after a crash.
        """
        kill = getattr(pool, "kill_workers", None)
        if kill is not None:
            kill()
        else:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        self._discard_pool(pool)

    def run(self, fn: Callable[..., Any], items: Iterable[tuple], on_result: Callable[[tuple, Any], None],
            on_failure: Callable[[tuple, BaseException], None], *, cancel: CancelToken | None = None,
            threads: int | None = None, timeout: Callable[[tuple], float] | None = None) -> bool:
        """Call ``fn(*item)`` for every item; hand each result to ``on_result(item, result)``.

        With ``threads`` set, a thread pool of that size runs the tasks (for
        network-bound engines); otherwise the process pool. An exception in
        a task, or a crashed worker process, goes to ``on_failure(item,
        exc)`` and the rest continue. ``timeout(item)`` gives the seconds a
        process task may run, counted from when a worker process is free to
        run it (see ``_expire``): past it, the worker processes are killed,
        the task fails with ``TimeoutError`` and the tasks beside it run
        again. Thread tasks are not timed (a thread cannot be stopped;
        network engines time out their own requests). Returns False when
        cancelled.
        """
        own_executor: Executor | None = ThreadPoolExecutor(threads) if threads else None
        limit = (threads or self.workers) * IN_FLIGHT_PER_WORKER
        pending: dict[Future, tuple[tuple, int, Executor]] = {}
        started: dict[Future, float] = {}   # when each process task was first known to have a worker
        order: dict[Future, int] = {}       # submission order
        suspects: list[tuple] = []  # tasks in flight when a worker died: re-run one at a time
        iterator = iter(items)
        counter = itertools.count()
        exhausted = False
        try:
            while True:
                broke = False
                isolating = bool(suspects) or any(attempt for _, attempt, _ in pending.values())
                if isolating:
                    if not pending and suspects:
                        executor = own_executor or self.processes()
                        item = suspects.pop(0)
                        future = executor.submit(fn, *item)
                        pending[future] = (item, 1, executor)
                        order[future] = next(counter)
                else:
                    while len(pending) < limit and not exhausted and not (cancel and cancel.cancelled):
                        item = next(iterator, None)
                        if item is None:
                            exhausted = True
                            break
                        executor = own_executor or self.processes()
                        try:
                            future = executor.submit(fn, *item)
                        except BrokenProcessPool:
                            # A worker died since the last look: this item never ran, so it goes back to
                            # the front; the pool's tasks fail below and are run again one at a time first.
                            self._discard_pool(executor)
                            iterator = itertools.chain([item], iterator)
                            broke = True
                            break
                        pending[future] = (item, 0, executor)
                        order[future] = next(counter)
                if broke and not pending:
                    continue  # the pool broke with nothing of this run in it: submit again on a new pool
                if not pending:
                    return not (cancel and cancel.cancelled)
                done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    started.pop(future, None)
                    order.pop(future, None)
                    item, attempt, executor = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as exc:
                        # The pool died under this task: it, or a task beside it, crashed
                        # the worker. Each such task runs again, alone, on a fresh pool.
                        self._discard_pool(executor)
                        if attempt == 0:
                            suspects.append(item)
                        else:
                            on_failure(item, RuntimeError(f"the worker process crashed on this file ({exc})"))
                        continue
                    except Exception as exc:
                        on_failure(item, exc)
                        continue
                    on_result(item, result)
                if timeout is not None and own_executor is None:
                    self._expire(pending, started, order, timeout, on_failure)
        finally:
            if own_executor is not None:
                own_executor.shutdown(wait=True, cancel_futures=True)

    def _expire(self, pending: dict[Future, tuple[tuple, int, Executor]], started: dict[Future, float],
                order: dict[Future, int], timeout: Callable[[tuple], float],
                on_failure: Callable[[tuple, BaseException], None]) -> None:
        """Fail the process tasks that ran past ``timeout(item)`` seconds and kill their pool.

        ``ProcessPoolExecutor`` marks a task running when it enters the
        pool's call queue, which holds one task more than there are workers,
        and workers take tasks from it in submission order. So among the
        running tasks of the current pool, the ``workers`` oldest ones are
        the ones executing: a task's clock starts when it is one of those,
        never while it still waits for a worker.
        """
        now = time.monotonic()
        with self._lock:
            current = self._processes
        running = sorted((f for f, (_, _, ex) in pending.items() if ex is current and f.running()),
                         key=lambda f: order.get(f, 0))
        for future in running[:self.workers]:
            started.setdefault(future, now)
        for future in running[:self.workers]:
            item, _attempt, executor = pending[future]
            limit = timeout(item)
            if now - started[future] > limit:
                del pending[future]
                started.pop(future, None)
                order.pop(future, None)
                for other, (_, _, ex) in pending.items():  # they fail with BrokenProcessPool and run again
                    if ex is executor:
                        started.pop(other, None)
                self._kill_pool(executor)
                on_failure(item, TimeoutError(f"gave up after {limit:.0f} s: the file took too long to "
                                              "process (the worker was stopped)"))
                return

    def close(self) -> None:
        """Stop the worker processes."""
        with self._lock:
            if self._processes is not None:
                self._processes.shutdown(wait=True, cancel_futures=True)
                self._processes = None
