"""The import progress widget of the status bar: stage counts, S3 upload bytes, a bar, Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from mediaapp.cloud.transfers import UploadTotals, format_bytes
from mediaapp.core.types import ImportReport

#: How each stage is named in the status bar.
STAGE_NAMES = {"scan": "scanning", "ingest": "ingest", "analyse": "analyse", "index": "index", "done": "done"}


def format_progress(stage: str, done: int, total: int, report: ImportReport | None,
                    uploads: UploadTotals | None = None) -> str:
    """One status line, e.g. ``"ingest 120/400 · imported 118 · analysed 80 · failed 3"``.

    ``done``/``total`` count the files (ingest) or images (analyse) of the
    current stage; the rest are the running totals of ``report``. With
    ``uploads`` that saw any S3 traffic, ``"uploaded 3 files, 12.4 MiB"``
    is added (bytes in binary units, ``mediaapp.cloud.transfers.format_bytes``).
    """
    name = STAGE_NAMES.get(stage, stage)
    parts = [f"{name} {done}/{total}" if total else name]
    if report is not None:
        if report.imported:
            parts.append(f"imported {report.imported}")
        if report.duplicates:
            parts.append(f"duplicates {report.duplicates}")
        if report.unchanged:
            parts.append(f"unchanged {report.unchanged}")
        if report.analysed or stage == "analyse":
            parts.append(f"analysed {report.analysed}")
        if report.cached:
            parts.append(f"cached {report.cached}")
    if uploads is not None and (uploads.bytes_sent or uploads.files_uploaded or uploads.files_present):
        files = uploads.files_uploaded
        parts.append(f"uploaded {files} file{'s' if files != 1 else ''}, {format_bytes(uploads.bytes_sent)}")
    if report is not None:
        parts.append(f"failed {len(report.failed)}")
    return " · ".join(parts)


def format_report(report: ImportReport) -> str:
    """The summary of a finished import, e.g. ``"Import finished: 7 new, 0 duplicates, …, 1 failed"``."""
    head = ("Import cancelled" if report.cancelled else
            "Import stopped by the cloud budget" if report.budget_stopped else "Import finished")
    return (f"{head}: {report.imported} new, {report.duplicates} duplicates, {report.unchanged} unchanged, "
            f"{report.analysed} analysed, {report.cached} cached, {len(report.failed)} failed")


class ImportStatus(QWidget):
    """Status-bar widget: a title, the stage line, a progress bar and a Cancel button.

    Hidden while no import runs. ``cancelRequested`` is emitted by the
    Cancel button (which then disables itself until the next ``start``);
    ``progressShown(text)`` after each update of the stage line.
    """

    cancelRequested = Signal()
    progressShown = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("importStage")
        self.bar = QProgressBar()
        self.bar.setObjectName("importBar")
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setObjectName("importCancel")
        self.cancel.setToolTip("Stop the import after the files in progress (it resumes next time)")
        self.cancel.clicked.connect(self._on_cancel)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.hide()

    def start(self, title: str) -> None:
        """Show the widget for a new run named ``title`` (e.g. ``"Importing"``)."""
        self.title = title
        self.label.setText(f"{title}: starting…")
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.cancel.setEnabled(True)
        self.cancel.setText("Cancel")
        self.show()

    def update_progress(self, progress, uploads: UploadTotals | None = None) -> None:
        """Show an ``ImportProgress`` (stage, done, total, report) and the S3 ``uploads`` so far (or None)."""
        text = format_progress(progress.stage, progress.done, progress.total, progress.report, uploads)
        self.label.setText(f"{getattr(self, 'title', 'Importing')}: {text}")
        if progress.total > 0:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            self.bar.setFormat(f"{progress.stage} %p%")
        else:
            self.bar.setRange(0, 0)
        self.progressShown.emit(self.label.text())

    def show_message(self, text: str) -> None:
        """Show ``text`` after the title with a busy bar (a step without counts, e.g. the cost estimate)."""
        self.label.setText(f"{getattr(self, 'title', 'Importing')}: {text}")
        self.bar.setRange(0, 0)
        self.progressShown.emit(self.label.text())

    def finish(self) -> None:
        """Hide the widget (the run ended)."""
        self.hide()

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling…")
        self.cancelRequested.emit()
