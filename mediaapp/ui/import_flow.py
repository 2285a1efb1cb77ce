"""The import workflow as an object: estimate the cloud cost, ask, import, with progress and cancel.

``ImportFlow`` runs one import at a time over a ``BackgroundRunner``. When
the import may call Amazon Rekognition (the library's engines or a folder
rule name it), the cost is first estimated on a worker
(``CostEstimator.estimate_import``: images x analyses x price, minus what is
stored, against the run and month budgets) and ``confirm(text)`` is asked;
nothing is imported before. The window shows what the signals say and owns
no step of the workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from mediaapp.core.types import ImportReport
from mediaapp.ui.background import BackgroundRunner, BackgroundTask, TaskContext

__all__ = ["ImportFlow"]


class _EstimateStopped(Exception):
    """The user cancelled while the cost was being estimated."""


class ImportFlow(QObject):
    """One import at a time: ``start`` it, ``cancel`` it; signals report each step on the GUI thread.

    ``confirm(text)`` asks the user to accept the Rekognition cost ``text``
    (modal; True to proceed). Signals: ``message(text)`` (a status line),
    ``progressed(progress, uploads)`` (an ``ImportProgress`` and the S3
    upload totals or None), ``finished(report)``, ``declined(reason)`` (the
    estimate was not confirmed, or cancelled), ``failed(message)``, and
    ``ended()`` after any of the last three.
    """

    message = Signal(str)
    progressed = Signal(object, object)
    finished = Signal(object)
    declined = Signal(str)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, runner: BackgroundRunner, confirm: Callable[[str], bool], parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.confirm = confirm
        self.task: BackgroundTask | None = None
        self._library: Any = None

    @property
    def running(self) -> bool:
        """True from ``start`` until ``ended``."""
        return self._library is not None

    def start(self, library: Any, paths: Sequence[str | Path], *, reanalyse: bool = False) -> BackgroundTask | None:
        """Import ``paths`` into ``library`` (estimating and confirming a cloud cost first).

        Returns the ``BackgroundTask`` running now (the estimate's or the
        import's), or None when an import already runs.
        """
        if self.running:
            return None
        from mediaapp.services.costs import needs_cloud

        self._library = library
        names = [str(p) for p in paths]
        if needs_cloud(library.settings):
            return self._estimate(library, names, reanalyse)
        return self._import(library, names, reanalyse)

    def cancel(self) -> None:
        """Ask the running estimate or import to stop at the next file."""
        if self.task is not None:
            self.task.cancel()

    def abandon(self, reason: str) -> None:
        """End without importing (the window closes): an estimate's answer or a pending question is dropped.

        An import already running is not stopped here; cancel it first.
        """
        if self.running:
            self._declined(reason)

    def _estimate(self, library: Any, paths: list[str], reanalyse: bool) -> BackgroundTask:
        from mediaapp.services.costs import describe_estimate

        def work(ctx: TaskContext) -> Any:
            def progress(done: int, total: int) -> None:
                if ctx.cancelled:
                    raise _EstimateStopped()
                ctx.progress(f"estimating the Rekognition cost: reading {done}/{total} files…")
            return library.costs.estimate_import(paths, reanalyse=reanalyse, progress=progress)

        def estimated(est: Any) -> None:
            self.task = None
            if est is None or est.calls == 0:  # nothing to pay for: no question
                self._import(library, paths, reanalyse)
            else:
                self._decide(library, paths, reanalyse, "\n".join(describe_estimate(est)))

        def failed(exc: BaseException) -> None:
            self.task = None
            if isinstance(exc, _EstimateStopped):
                self._declined("Import cancelled")
            else:
                self._decide(library, paths, reanalyse, f"The cost could not be estimated: {exc}\n"
                                                        "The run and month budgets still apply.")

        self.message.emit("estimating the Rekognition cost…")
        self.task = self.runner.run(work, estimated, failed, self.message.emit, label="estimate cost")
        return self.task

    def _decide(self, library: Any, paths: list[str], reanalyse: bool, text: str) -> None:
        if self._library is not library:
            return  # abandoned meanwhile
        accepted = self.confirm(text)
        if self._library is not library:
            return  # abandoned while the user was asked (the window closed)
        if accepted:
            self._import(library, paths, reanalyse)
        else:
            self._declined("Import cancelled: the Rekognition cost was not confirmed")

    def _import(self, library: Any, paths: list[str], reanalyse: bool) -> BackgroundTask:
        """Start the import itself; S3 upload bytes and files join the progress."""
        from mediaapp.cloud.transfers import watch_uploads

        def work(ctx: TaskContext) -> ImportReport:
            latest: list[Any] = []

            def push(progress: Any = None) -> None:  # import thread and upload threads
                if progress is not None:
                    latest[:] = [progress]
                if latest:
                    ctx.progress((latest[0], watch.totals()))

            with watch_uploads(on_bytes=lambda n: push(), on_file=lambda uploaded: push(),
                               cancel=ctx.cancel) as watch:
                return library.import_paths(paths, progress=push, cancel=ctx.cancel, reanalyse=reanalyse)

        def progressed(value: Any) -> None:
            progress, uploads = value if isinstance(value, tuple) else (value, None)
            self.progressed.emit(progress, uploads)

        def done(report: ImportReport) -> None:
            self._end()
            self.finished.emit(report)
            self.ended.emit()

        def failed(exc: BaseException) -> None:
            self._end()
            self.failed.emit(f"Import failed: {exc}")
            self.ended.emit()

        self.task = self.runner.run(work, on_success=done, on_failure=failed, on_progress=progressed, label="import")
        return self.task

    def _declined(self, reason: str) -> None:
        self._end()
        self.declined.emit(reason)
        self.ended.emit()

    def _end(self) -> None:
        """Forget the run (``running`` is False from here on)."""
        self.task = None
        self._library = None
