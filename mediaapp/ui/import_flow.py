"""The import workflow as an object: check the models, estimate the cloud cost, ask, import, with progress and cancel.

``ImportFlow`` runs one import at a time over a ``BackgroundRunner``. Given
a ``confirm_download``, it first asks the library on a worker what the
import would download once before analysing (``Library.pending_downloads``:
the local engine's object model until it is cached) and, when something,
asks ``confirm_download(downloads)``; nothing is imported or downloaded
before a yes. When the import may call Amazon Rekognition (the library's engines or a folder
rule name it), the cost is first estimated on a worker
(``CostEstimator.estimate_import``: images x analyses x price, minus what is
stored, against the run and month budgets) and ``confirm(text)`` is asked;
nothing is imported before. ``apis`` (optional) limits the import to these
analyses and ``engines`` to these engines (the window's "Relabel now" runs
the local engine's DetectLabels alone), and the model-download check and
the cost estimate ask about those only;
None runs the library's settings' list, as the grid's Re-analyse and every
plain import do. The window shows what the signals say and owns no step of
the workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from mediaapp.core.redact import redact
from mediaapp.core.types import ImportReport
from mediaapp.ui.background import BackgroundRunner, BackgroundTask, TaskContext

__all__ = ["ImportFlow"]


class _EstimateStopped(Exception):
    """The user cancelled while the cost was being estimated."""


class ImportFlow(QObject):
    """One import at a time: ``start`` it, ``cancel`` it; signals report each step on the GUI thread.

    ``confirm(text)`` asks the user to accept the Rekognition cost ``text``
    (modal; True to proceed). ``confirm_download(downloads)`` (optional)
    asks whether to download what the import needs first (description ->
    size in bytes; modal; True to proceed). Signals: ``message(text)`` (a status line),
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

    def __init__(self, runner: BackgroundRunner, confirm: Callable[[str], bool], parent: QObject | None = None,
                 confirm_download: Callable[[dict[str, int]], bool] | None = None):
        super().__init__(parent)
        self.runner = runner
        self.confirm = confirm
        self.confirm_download = confirm_download
        self.task: BackgroundTask | None = None
        self._library: Any = None
        self._retry = False
        self._apis: list[str] | None = None
        self._engines: list[str] | None = None

    @property
    def running(self) -> bool:
        """True from ``start`` until ``ended``."""
        return self._library is not None

    def start(self, library: Any, paths: Sequence[str | Path], *, reanalyse: bool = False,
              retry: bool = False, apis: Sequence[str] | None = None,
              engines: Sequence[str] | None = None) -> BackgroundTask | None:
        """Import ``paths`` into ``library`` (confirming a model download, estimating and confirming a cloud cost
        first).

        ``retry``: the files' recorded problems are forgotten first
        (``Library.forget_errors``, on the worker, once the import is
        confirmed), so files that failed are tried again even when unchanged.
        ``apis``: the analyses to run (Rekognition operation names or their
        short names, as ``Library.import_paths`` takes them), or None for the
        library's settings' list; the download check and the cost estimate
        read the same list. ``engines``: the engines to run (``Library.import_paths``'
        ``engines``), or None for the settings' and folder rules'; named
        engines without ``rekognition`` skip the cost estimate, and the download
        check asks those engines only. Returns the
        ``BackgroundTask`` running now (the estimate's or the import's), or
        None when an import already runs.
        """
        if self.running:
            return None
        self._library = library
        self._retry = retry
        self._apis = None if apis is None else list(apis)
        self._engines = None if engines is None else list(engines)
        names = [str(p) for p in paths]
        if self.confirm_download is not None:
            return self._check_downloads(library, names, reanalyse)
        return self._estimate_or_import(library, names, reanalyse)

    def _estimate_or_import(self, library: Any, paths: list[str], reanalyse: bool) -> BackgroundTask:
        from mediaapp.core.types import CLOUD_ENGINE
        from mediaapp.services.costs import needs_cloud

        if needs_cloud(library.settings) if self._engines is None else CLOUD_ENGINE in self._engines:
            return self._estimate(library, paths, reanalyse)
        return self._import(library, paths, reanalyse)

    def _check_downloads(self, library: Any, paths: list[str], reanalyse: bool) -> BackgroundTask:
        """Ask the library (on a worker) what the import would download first; ask the user when something."""
        ask = self.confirm_download
        apis, engines = self._apis, self._engines
        task: BackgroundTask | None = None

        def checked(downloads: dict[str, int]) -> None:
            self.task = None
            if self._library is not library:
                return  # abandoned meanwhile
            if task is not None and task.cancelled:
                self._declined("Import cancelled")
                return
            if downloads and ask is not None:
                accepted = ask(dict(downloads))
                if self._library is not library:
                    return  # abandoned while the user was asked (the window closed)
                if not accepted:
                    self._declined("Import cancelled: the model download was not accepted")
                    return
            self._estimate_or_import(library, paths, reanalyse)

        def failed(exc: BaseException) -> None:
            # the check reads the model manifest and cache; if that fails, so does the engine's download,
            # which the import then reports per engine
            checked({})

        self.message.emit("checking the analysis models…")
        task = self.task = self.runner.run(lambda ctx: library.pending_downloads(apis, engines), checked, failed,
                                           label="check models")
        return task

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

        apis = self._apis

        def work(ctx: TaskContext) -> Any:
            def progress(done: int, total: int) -> None:
                if ctx.cancelled:
                    raise _EstimateStopped()
                ctx.progress(f"estimating the Rekognition cost: reading {done}/{total} files…")
            return library.costs.estimate_import(paths, reanalyse=reanalyse, apis=apis, progress=progress)

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
                self._decide(library, paths, reanalyse, f"The cost could not be estimated: {redact(str(exc))}\n"
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

        retry, apis, engines = self._retry, self._apis, self._engines

        def work(ctx: TaskContext) -> ImportReport:
            if retry:
                library.forget_errors(paths)
            latest: list[Any] = []

            def push(progress: Any = None) -> None:  # import thread and upload threads
                if progress is not None:
                    latest[:] = [progress]
                if latest:
                    ctx.progress((latest[0], watch.totals()))

            with watch_uploads(on_bytes=lambda n: push(), on_file=lambda uploaded: push(),
                               cancel=ctx.cancel) as watch:
                return library.import_paths(paths, engines=engines, apis=apis, progress=push, cancel=ctx.cancel,
                                            reanalyse=reanalyse)

        def progressed(value: Any) -> None:
            progress, uploads = value if isinstance(value, tuple) else (value, None)
            self.progressed.emit(progress, uploads)

        def done(report: ImportReport) -> None:
            self._end()
            self.finished.emit(report)
            self.ended.emit()

        def failed(exc: BaseException) -> None:
            self._end()
            self.failed.emit(redact(f"Import failed: {exc}"))
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
        self._apis = None
        self._engines = None
