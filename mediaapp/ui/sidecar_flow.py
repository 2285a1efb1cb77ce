"""File ▸ Write XMP sidecars…: the workflow, and the Settings dialog's "XMP sidecars" section.

``SidecarFlow.write`` runs ``Library.write_sidecars`` on the window's
``BackgroundRunner`` with a progress dialog whose Cancel stops between
images (the rest stays pending in the change feed and is written next
time). Sidecars are opt-in: while they are off for the library, the first
use explains what is written and where, and asks before turning them on
(saved in the library's ``settings.json``, so the question is asked once
per library). Failures (an unwritable folder) are listed once at the end;
the other sidecars are written. ``SidecarSettingsBox`` is the Settings
dialog's section (library opt-in, naming, minimum confidence, confidences).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

from mediaapp.settings import sidecars_anywhere
from mediaapp.ui import messages
from mediaapp.ui.background import BackgroundRunner, BackgroundTask, TaskContext

__all__ = ["EXPLANATION", "SidecarFlow", "SidecarSettingsBox"]

#: What the first use explains before sidecars are turned on for a library.
EXPLANATION = (
    "mediaapp can write its labels and the names of the people you named into XMP sidecar files next to your "
    "photos (photo.jpg → photo.jpg.xmp), where Lightroom, Capture One, digiKam, darktable and exiftool read "
    "them.\n\n"
    "• Your photos themselves are never changed.\n"
    "• Keywords and regions other programs wrote into a sidecar are kept; mediaapp only changes its own "
    "entries.\n"
    "• Only machine labels of at least the minimum confidence in Settings are written.\n"
    "• From then on, sidecars follow new imports and People edits by themselves.\n\n"
    "Turn XMP sidecars on for this library and write them now?")

#: The naming choices of the Settings section: setting value -> title.
NAMINGS = {"name.ext.xmp": "photo.jpg.xmp (digiKam, darktable; default)",
           "name.xmp": "photo.xmp (Lightroom, Capture One; a RAW's JPEG shares it)"}


def summary(report: Any) -> str:
    """One status line of a ``SidecarReport``."""
    head = "XMP sidecars cancelled" if report.cancelled else "XMP sidecars written"
    return f"{head}: {report.written} written, {report.unchanged} already up to date, {len(report.failed)} failed"


class SidecarFlow(QObject):
    """The window's sidecar workflow over ``runner``; dialogs are parented to ``parent``.

    Signals: ``message(text)`` for the status bar; ``finished(result)`` when
    a write ended (its ``SidecarReport``, or the exception that stopped it):
    the window reloads its Errors panel, where each sidecar that could not
    be written is one error of its file. Turning sidecars on here needs no
    signal: ``Library.update_settings`` applies it to the open library, and
    the window reads ``library.settings`` live.
    """

    message = Signal(str)
    finished = Signal(object)

    def __init__(self, runner: BackgroundRunner, parent: QWidget):
        super().__init__(parent)
        self.runner = runner
        self.window_ = parent
        #: The running write, or None.
        self.task: BackgroundTask | None = None
        self._dialog: QProgressDialog | None = None

    @property
    def running(self) -> bool:
        """Whether a write runs."""
        return self.task is not None

    def write(self, library: Any) -> None:
        """Write ``library``'s pending sidecars, asking first (once) when they are off for it."""
        if self.task is not None or library is None:
            return
        if sidecars_anywhere(library.settings.sidecars):
            self._start(library)
            return
        answer = messages.ask(self.window_, "Write XMP sidecars", EXPLANATION,
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                              QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        root = library.root

        def turn_on(ctx: TaskContext) -> Any:
            from mediaapp.settings import load_settings, save_settings, sidecar_options

            stored = load_settings(root)
            options = sidecar_options(stored.get("sidecars") or {})
            options["enabled"] = True
            stored["sidecars"] = options
            save_settings(root, stored)
            return library.update_settings(sidecars=options)

        def turned_on(_settings: Any) -> None:
            self._start(library)

        def not_saved(exc: BaseException) -> None:
            messages.warn(self.window_, "Settings not saved", str(exc))

        self.runner.run(turn_on, on_success=turned_on, on_failure=not_saved, label="turn on XMP sidecars")

    def write_quietly(self, library: Any) -> None:
        """Write pending sidecars without asking or a dialog (after settings changed); status bar only."""
        if self.task is None and library is not None and sidecars_anywhere(library.settings.sidecars):
            self._start(library, dialog=False)

    def _start(self, library: Any, dialog: bool = True) -> None:
        def work(ctx: TaskContext) -> Any:
            return library.write_sidecars(progress=lambda done, total: ctx.progress((done, total)),
                                          cancel=lambda: ctx.cancelled)

        self.task = self.runner.run(work, on_success=self._done, on_failure=self._failed,
                                    on_progress=self._progress, label="write XMP sidecars")
        if dialog:
            progress = QProgressDialog("Writing XMP sidecars…", "Cancel", 0, 0, self.window_)
            progress.setWindowTitle("Write XMP sidecars")
            progress.setWindowModality(Qt.WindowModality.WindowModal)
            progress.setMinimumDuration(500)
            progress.canceled.connect(self.cancel)
            self._dialog = progress
        self.message.emit("Writing XMP sidecars…")

    def cancel(self) -> None:
        """Stop the running write between images (the rest stays pending)."""
        if self.task is not None:
            self.task.cancel()

    def _progress(self, value: tuple[int, int]) -> None:
        done, total = value
        if self._dialog is not None:
            self._dialog.setMaximum(total)
            self._dialog.setValue(done)
        self.message.emit(f"Writing XMP sidecars: {done}/{total} images")

    def _finish(self) -> None:
        self.task = None
        if self._dialog is not None:
            self._dialog.canceled.disconnect(self.cancel)
            self._dialog.reset()
            self._dialog.deleteLater()
            self._dialog = None

    def _done(self, report: Any) -> None:
        self._finish()
        self.message.emit(summary(report))
        self.finished.emit(report)
        if report.failed:
            lines = "\n".join(f"{path}: {reason}" for path, reason in report.failed[:10])
            more = f"\n… and {len(report.failed) - 10} more (see the Errors panel)" if len(report.failed) > 10 else ""
            messages.warn(self.window_, "Some XMP sidecars were not written",
                          f"{summary(report)}.\n\n{lines}{more}\n\nThey are tried again next time.")

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.finished.emit(exc)
        messages.warn(self.window_, "XMP sidecars not written", str(exc))


class SidecarSettingsBox(QGroupBox):
    """The Settings dialog's "XMP sidecars" section, filled from ``settings`` (``settings.json``'s dict).

    ``value()`` gives the ``sidecars`` setting as edited (folder rules kept as they were).
    """

    def __init__(self, settings: dict[str, Any], parent: QWidget | None = None):
        from mediaapp.settings import sidecar_options

        super().__init__("XMP sidecars", parent)
        try:
            self._options = sidecar_options(settings.get("sidecars") or {})
        except ValueError:
            self._options = sidecar_options({})
        form = QFormLayout(self)
        self.enabled = QCheckBox("Write labels and named people into XMP sidecars next to the files")
        self.enabled.setObjectName("sidecarsEnabled")
        self.enabled.setToolTip("For Lightroom, Capture One, digiKam, darktable and exiftool. The photos "
                                "themselves are never changed; what other programs wrote is kept.")
        self.enabled.setChecked(bool(self._options["enabled"]))
        form.addRow(self.enabled)
        self.naming = QComboBox()
        for key, title in NAMINGS.items():
            self.naming.addItem(title, key)
        self.naming.setCurrentIndex(max(self.naming.findData(self._options["naming"]), 0))
        form.addRow("Sidecar name", self.naming)
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0, 100)
        self.min_confidence.setSuffix(" %")
        self.min_confidence.setValue(float(self._options["min_confidence"]))
        self.min_confidence.setToolTip("Machine labels below this confidence stay in mediaapp only")
        form.addRow("Write labels from", self.min_confidence)
        self.confidences = QCheckBox("Also write each label's confidence (mediaapp's own XMP fields)")
        self.confidences.setChecked(bool(self._options["confidences"]))
        form.addRow(self.confidences)
        self.enabled.toggled.connect(self._update_enabled)
        self._update_enabled(self.enabled.isChecked())

    def _update_enabled(self, on: bool) -> None:
        for widget in (self.naming, self.min_confidence, self.confidences):
            widget.setEnabled(on)

    def value(self) -> dict[str, Any]:
        """The ``sidecars`` setting as edited."""
        return {**self._options, "enabled": self.enabled.isChecked(), "naming": self.naming.currentData(),
                "min_confidence": float(self.min_confidence.value()), "confidences": self.confidences.isChecked()}
