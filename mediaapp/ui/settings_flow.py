"""The Settings and cloud settings workflows: load off the GUI thread, edit in a dialog, check, save, apply.

Saving applies the new settings to the open library
(``Library.update_settings``): the next import, search or People edit follows
them without reopening it. Only a changed search backend or worker count,
which a library builds when it opens, asks the window to open it again
(``reopen``). A ``settings.json`` that cannot be read, or values that do not
check, are explained in a message box naming the key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from mediaapp.ui.background import BackgroundRunner

__all__ = ["SettingsFlow"]


class SettingsFlow(QObject):
    """The settings dialogs of one window (``parent``), run over its ``runner``.

    Signals: ``message(text)`` for the status bar, ``reopen(root)`` when the
    library must be opened again for its new settings to apply.
    """

    message = Signal(str)
    reopen = Signal(object)

    def __init__(self, runner: BackgroundRunner, parent: QWidget, busy: Callable[[], bool] = lambda: False):
        super().__init__(parent)
        self.runner = runner
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
                        on_failure=lambda exc: QMessageBox.warning(self.window_, "Settings cannot be read", str(exc)),
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
            QMessageBox.warning(self.window_, "Settings not saved", str(exc))
            return

        def saved(_result: object) -> None:
            if library.needs_reopen(checked):
                self.reopen.emit(root)  # a new search backend or worker count is built when a library opens
            else:
                library.update_settings(**checked.to_dict())  # the next import and edit follow them
                self.message.emit("Settings saved")

        self.runner.run(lambda ctx: save_settings(root, checked), on_success=saved, label="save settings")

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
