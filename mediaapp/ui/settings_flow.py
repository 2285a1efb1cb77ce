"""The Settings and cloud settings workflows: load off the GUI thread, edit in a dialog, check, save, apply.

Saving applies the new settings to the open library
(``Library.update_settings``): the next import, search or People edit follows
them without reopening it. Only a changed search backend or worker count,
which a library builds when it opens, asks the window to open it again
(``reopen``). A ``settings.json`` that cannot be read, or values that do not
check, are explained in a message box naming the key.

A changed "Stack RAW+JPEG pairs" is applied to the whole library at once by
``Library.restack`` on a worker (through ``ui/operations.Operations`` when the
window gives one, so the grid refreshes after); changed watch settings
(folders, polling, reconcile interval) emit ``watchChanged`` so the window
restarts its folder watcher with them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from mediaapp.ui import messages
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.operations import OpChanges, Operations

__all__ = ["SettingsFlow"]


class SettingsFlow(QObject):
    """The settings dialogs of one window (``parent``), run over its ``runner``.

    Signals: ``message(text)`` for the status bar, ``reopen(root)`` when the
    library must be opened again for its new settings to apply.
    """

    message = Signal(str)
    reopen = Signal(object)
    #: ``applied(settings)``: the checked ``Settings`` just saved and applied to the open library (not emitted
    #: when the library reopens instead): for what the window shows from them ("Blur unsafe thumbnails").
    applied = Signal(object)
    #: ``watchChanged()``: the watch settings (``watch_folders``, ``watch_polling``, ``watch_reconcile_s``) were
    #: saved changed: a running folder watcher should start again with them.
    watchChanged = Signal()
    #: ``restacked(count)``: "Stack RAW+JPEG pairs" was applied to the library (``count`` assets changed stack).
    restacked = Signal(int)

    def __init__(self, runner: BackgroundRunner, parent: QWidget, busy: Callable[[], bool] = lambda: False,
                 ops: Operations | None = None):
        super().__init__(parent)
        self.runner = runner
        #: The window's reads and edits: a restack goes through it so the views refresh (``OpChanges(library=True)``).
        self.ops = ops
        #: True while settings must not change (an import runs): the dialog is then not shown.
        self.busy = busy
        self.window_ = parent  # the dialogs' parent
        #: The cloud settings dialog while it is open, else None.
        self.cloud_dialog: Any = None

    def edit(self, library: Any) -> None:
        """Load ``library``'s settings.json on a worker, then show the Settings dialog."""
        from mediaapp.settings import load_settings

        root = library.root
        self.runner.run(lambda ctx: load_settings(root), on_success=lambda s: self._show(library, root, s),
                        on_failure=lambda exc: messages.warn(self.window_, "Settings cannot be read", str(exc)),
                        label="load settings")

    def _show(self, library: Any, root: Path, settings: dict[str, Any]) -> None:
        from mediaapp.settings import Settings, SettingsError, save_settings
        from mediaapp.ui.settings_dialog import SettingsDialog

        if self.busy():  # an import started while the file was read: its settings must not change under it
            self.message.emit("Settings not opened: wait for the import to finish (or cancel it)")
            return
        dialog = SettingsDialog(settings, self.window_, runner=self.runner)  # no thread pool of its own
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            values = dialog.values()
        finally:
            dialog.deleteLater()  # parented to the window: without this every use would leave one behind
        if values == settings:
            return
        try:
            checked = Settings.from_mapping(values)
        except SettingsError as exc:
            messages.warn(self.window_, "Settings not saved", str(exc))
            return

        def saved(_result: object) -> None:
            if library.needs_reopen(checked):
                self.reopen.emit(root)  # a new search backend or worker count is built when a library opens
            else:
                before = library.settings
                library.update_settings(**checked.to_dict())  # the next import and edit follow them
                self.message.emit("Settings saved")
                self.applied.emit(checked)
                if before.stack_raw_jpeg != checked.stack_raw_jpeg:
                    self.restack(library)
                if (before.watch_folders, before.watch_polling, before.watch_reconcile_s) != (
                        checked.watch_folders, checked.watch_polling, checked.watch_reconcile_s):
                    self.watchChanged.emit()

        self.runner.run(lambda ctx: save_settings(root, checked), on_success=saved, label="save settings")

    def restack(self, library: Any) -> None:
        """Apply ``library``'s "Stack RAW+JPEG pairs" to all of it (``Library.restack``) on a worker.

        The grid refreshes after (``OpChanges(library=True)`` through ``ops``);
        the status bar says what changed; a failure is shown in a message box.
        """
        on = bool(library.settings.stack_raw_jpeg)
        self.message.emit("Stacking RAW+JPEG pairs…" if on else "Showing RAW and JPEG files separately…")

        def done(count: int) -> None:
            self.message.emit(f"RAW+JPEG pairs {'stacked' if on else 'unstacked'}: {count} pictures changed")
            self.restacked.emit(count)

        def failed(exc: BaseException) -> None:
            messages.warn(self.window_, "RAW+JPEG stacks not updated",
                          f"The setting is saved; the next import applies it. ({exc})")

        if self.ops is not None:
            self.ops.mutate(lambda ctx: library.restack(), OpChanges(library=True), done, failed,
                            label="stack RAW+JPEG pairs")
        else:
            self.runner.run(lambda ctx: library.restack(), on_success=done, on_failure=failed,
                            label="stack RAW+JPEG pairs")

    def edit_cloud(self, library: Any) -> None:
        """Show the cloud settings dialog (S3, Rekognition, engines per folder, budgets) for ``library``.

        Its save writes ``settings.json`` and updates the open library's settings.
        """
        from mediaapp.ui.cloud_dialog import CloudSettingsDialog

        dialog = CloudSettingsDialog(library, self.window_, self.runner)
        self.cloud_dialog = dialog
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.saved:
                self.message.emit("Cloud settings saved")
        finally:
            self.cloud_dialog = None
            dialog.deleteLater()
