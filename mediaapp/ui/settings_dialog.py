"""The Settings dialog: analysis engines and APIs, face features, the search index backend.

It edits a copy of the library's settings dict (``mediaapp.settings``);
``mediaapp.ui.settings_flow.SettingsFlow`` loads and saves it in the
background and applies it to the open library (reopening it only for a new
search backend or worker count). Unknown keys are kept untouched.

The "Folders" section (``ui/folder_settings.FolderSettingsBox``) edits
"Stack RAW+JPEG pairs", the watched folders, polling, the reconcile interval
and the folders with XMP sidecars on.

The search-index section edits ``settings["index"]`` (keys documented in
``mediaapp.search.factory``): backend, server URL, index (alias) name, user
name, CA bundle, TLS verification and the AWS region that turns on SigV4
signing. The password is never shown or stored: it comes from the
environment variable ``MEDIAAPP_OPENSEARCH_PASSWORD``. "Test connection"
runs ``mediaapp.search.factory.check_connection`` on a background thread
and shows the cluster's name, version and status, whether the index needs a
reindex, or a plain-words error. "Reindex now" (and OK after switching to
another OpenSearch target, when the user agrees) fills the index from the
library in the background with a progress bar (``Library.reindex``: a new
versioned index, then an alias swap), so the new backend is not empty; the
dialog closes once it is done. The dialog reaches the library through its
``library`` argument, else its parent's ``library`` attribute (the main
window's); without a library it cannot reindex.

The runner may outlive the dialog (the main window passes its own), so the
results of the connection test can arrive after the dialog was closed or
deleted: they are dropped then.

The sections sit in a scrolling form (``scrolling.scroll_form``) above the
OK and Cancel buttons, and every help text wraps, so the dialog is usable on
a 1024 x 700 screen.

A password inside the server URL is never shown: every status line goes
through ``mediaapp.core.redact.redact``. When the settings would send
basic-auth credentials over plain ``http://`` to another machine, the test
and reindex status lines end with a warning line (``⚠ ...``).
"""

from __future__ import annotations

import copy

import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mediaapp.analysis.registry import descriptors
from mediaapp.core.apis import API_SPECS
from mediaapp.core.redact import index_credentials_warning, redact
from mediaapp.settings import flag
from mediaapp.ui import messages
from mediaapp.ui.background import BackgroundRunner, BackgroundTask, Generation
from mediaapp.ui.folder_settings import FolderSettingsBox
from mediaapp.ui.scrolling import initial_size, scroll_form
from mediaapp.ui.sidecar_flow import SidecarSettingsBox

#: Search backends offered.
BACKENDS = {"sqlite": "Embedded (SQLite, in the library folder)", "opensearch": "OpenSearch server"}
#: AWS SigV4 services: Amazon OpenSearch Service domains sign as ``es``, Serverless collections as ``aoss``.
AWS_SERVICES = {"es": "Managed domain (es)", "aoss": "Serverless collection (aoss)"}
API_TITLES = {s.api.value: s.title for s in API_SPECS.values()}
#: Seconds each request of "Test connection" may take (a dead host answers within this).
TEST_TIMEOUT = 5.0
#: What the user sees about the password (the variable is read by ``mediaapp.search.factory``).
PASSWORD_NOTE = ("The password is read from the environment variable MEDIAAPP_OPENSEARCH_PASSWORD, never "
                 "stored here. With an AWS region, requests to Amazon OpenSearch Service are signed "
                 "(SigV4) with your AWS credentials (profile, environment or role) instead.")


def with_warning(text: str, settings: dict) -> str:
    """``text`` redacted (``mediaapp.core.redact.redact``), plus a ``⚠`` line when ``settings`` send credentials
    unencrypted (``index_credentials_warning``); ``settings`` is an ``index_settings()`` dict."""
    warning = index_credentials_warning(settings)
    return redact(text) + (f"\n⚠ Warning: {warning}." if warning else "")


class ReindexCancelled(Exception):
    """Raised inside the background reindex when the user pressed Cancel; the old index stays."""


class SettingsDialog(QDialog):
    """Edits ``settings`` (a dict shaped like ``mediaapp.settings.DEFAULTS``).

    ``values()`` returns the edited copy; the dialog never writes files.
    ``library`` (a ``mediaapp.library.Library``; default: ``parent.library``
    when the parent has one) is what "Reindex now" fills the index from;
    ``runner`` runs the connection test and the reindex off the GUI thread
    (default: a private ``BackgroundRunner``; one that outlives the dialog,
    e.g. the main window's, saves a thread pool per dialog).
    """

    def __init__(self, settings: dict, parent: QWidget | None = None, library=None,
                 runner: BackgroundRunner | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = copy.deepcopy(settings)
        self.library = library if library is not None else getattr(parent, "library", None)
        self.runner = runner or BackgroundRunner(max_threads=2, parent=self)
        self._tests = Generation()
        self._session = Generation()  # bumped when the dialog closes: results arriving later are dropped
        self.test_task: BackgroundTask | None = None
        self.reindex_task: BackgroundTask | None = None
        self._filled: dict | None = None  # the index settings a reindex from this dialog filled
        outer = QVBoxLayout(self)
        form_widget = QWidget()
        form_widget.setObjectName("settingsForm")
        layout = QVBoxLayout(form_widget)
        layout.setContentsMargins(0, 0, 0, 0)

        engines_box = QGroupBox("Analysis engines")
        engines_layout = QVBoxLayout(engines_box)
        self.engine_checks: dict[str, QCheckBox] = {}
        titles = {d.name: d.title for d in descriptors()}  # imports the engines: only when the dialog opens
        names = list(titles) + [e for e in settings.get("engines", []) if e not in titles]
        for name in names:
            check = QCheckBox(f"{name} — {titles.get(name, 'installed engine')}")
            check.setChecked(name in settings.get("engines", []))
            self.engine_checks[name] = check
            engines_layout.addWidget(check)
        layout.addWidget(engines_box)

        apis_box = QGroupBox("What to detect")
        apis_layout = QVBoxLayout(apis_box)
        self.api_checks: dict[str, QCheckBox] = {}
        for api in (s.api for s in API_SPECS.values() if s.media != "video"):  # videos get their images' choice
            check = QCheckBox(API_TITLES[api.value])
            check.setChecked(api.value in settings.get("apis", []))
            self.api_checks[api.value] = check
            apis_layout.addWidget(check)
        self.faces = QCheckBox("Face detection and recognition")
        self.faces.setToolTip("Off: no face is detected, stored or compared")
        self.faces.setChecked(bool(settings.get("faces_enabled", True)))
        apis_layout.addWidget(self.faces)
        self.blur_unsafe = QCheckBox("Blur unsafe thumbnails")
        self.blur_unsafe.setObjectName("blurUnsafe")
        self.blur_unsafe.setToolTip("Thumbnails of images flagged as unsafe content (nudity, violence…) are "
                                    "blurred in the grid until clicked. Needs the unsafe-content analysis.")
        self.blur_unsafe.setChecked(bool(settings.get("blur_unsafe", False)))
        apis_layout.addWidget(self.blur_unsafe)
        form = QFormLayout()
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0, 100)
        self.min_confidence.setSuffix(" %")
        self.min_confidence.setValue(float(settings.get("min_confidence", 50.0)))
        form.addRow("Keep labels from", self.min_confidence)
        self.max_labels = QSpinBox()
        self.max_labels.setRange(0, 1000)
        self.max_labels.setSpecialValueText("engine default")
        self.max_labels.setValue(int(settings.get("max_labels") or 0))
        form.addRow("At most labels per image", self.max_labels)
        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setSpecialValueText("one per core")
        self.workers.setValue(int(settings.get("workers") or 0))
        form.addRow("Worker processes", self.workers)
        apis_layout.addLayout(form)
        layout.addWidget(apis_box)
        self.sidecars_box = SidecarSettingsBox(settings)  # XMP sidecars: library opt-in, naming, minimum
        layout.addWidget(self.sidecars_box)
        # RAW+JPEG stacking, watched folders, per-folder sidecars (``ui/folder_settings.py``)
        self.folders_box = FolderSettingsBox(settings)
        layout.addWidget(self.folders_box)

        index_box = QGroupBox("Search index")
        index_form = QFormLayout(index_box)
        index = settings.get("index", {}) or {}
        self.backend = QComboBox()
        for key, title in BACKENDS.items():
            self.backend.addItem(title, key)
        if index.get("backend") and index.get("backend") not in BACKENDS:
            self.backend.addItem(index["backend"], index["backend"])
        self.backend.setCurrentIndex(max(0, self.backend.findData(index.get("backend", "sqlite"))))
        index_form.addRow("Backend", self.backend)
        self.url = QLineEdit(str(index.get("url", "")))
        self.url.setPlaceholderText("https://localhost:9200")
        index_form.addRow("Server URL", self.url)
        self.index_name = QLineEdit(str(index.get("index", "")))
        self.index_name.setPlaceholderText("mediaapp")
        index_form.addRow("Index name", self.index_name)
        self.username = QLineEdit(str(index.get("username", "") or ""))
        self.username.setPlaceholderText("none")
        index_form.addRow("User name", self.username)
        self.ca_bundle = QLineEdit(str(index.get("ca_certs", "") or ""))
        self.ca_bundle.setPlaceholderText("system certificates")
        self.ca_browse = QPushButton("Browse…")
        self.ca_browse.clicked.connect(self._choose_ca_bundle)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_bundle, 1)
        ca_row.addWidget(self.ca_browse)
        index_form.addRow("CA bundle", ca_row)
        self.verify_tls = QCheckBox("Verify the server's TLS certificate")
        self.verify_tls.setToolTip("Turn off only for a test cluster with a self-signed certificate")
        self.verify_tls.setChecked(flag(index.get("verify_certs"), True))
        index_form.addRow("", self.verify_tls)
        self.aws_region = QLineEdit(str(index.get("aws_region", "") or ""))
        self.aws_region.setPlaceholderText("none (e.g. eu-west-1 for Amazon OpenSearch Service)")
        index_form.addRow("AWS region (SigV4)", self.aws_region)
        self.aws_service = QComboBox()
        for key, title in AWS_SERVICES.items():
            self.aws_service.addItem(title, key)
        self.aws_service.setCurrentIndex(max(0, self.aws_service.findData(index.get("aws_service") or "es")))
        index_form.addRow("AWS service", self.aws_service)
        note = QLabel(PASSWORD_NOTE)
        note.setWordWrap(True)
        index_form.addRow(note)
        actions = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.reindex_button = QPushButton("Reindex now")
        self.reindex_button.setToolTip("Fill the index from the library (a new index replaces the old at the end)")
        self.reindex_button.clicked.connect(self._reindex_clicked)
        actions.addWidget(self.test_button)
        actions.addWidget(self.reindex_button)
        actions.addStretch(1)
        index_form.addRow(actions)
        self.index_status = QLabel()
        self.index_status.setWordWrap(True)
        self.index_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        index_form.addRow(self.index_status)
        self.reindex_progress = QProgressBar()
        self.reindex_progress.setVisible(False)
        index_form.addRow(self.reindex_progress)
        layout.addWidget(index_box)
        self._index_widgets = [self.backend, self.url, self.index_name, self.username, self.ca_bundle,
                               self.ca_browse, self.verify_tls, self.aws_region, self.aws_service]
        # bound methods, not lambdas holding ``self``: no reference cycle keeps a closed dialog alive
        for edit in (self.url, self.index_name, self.aws_region):
            edit.textChanged.connect(self._update_enabled)
        self.backend.currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

        hint = QLabel("Changes apply to the next import; use “Re-analyse with current models” to update "
                      "images already analysed.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)
        #: The scrolling form holding every section (the buttons stay below it).
        self.scroll = scroll_form(form_widget)
        outer.addWidget(self.scroll, 1)
        layout = outer
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)
        initial_size(self, QSize(form_widget.sizeHint().width() + 40, form_widget.sizeHint().height() + 80))

    def _update_enabled(self, *_changed) -> None:
        remote = self.backend.currentData() == "opensearch"
        busy = self.reindex_task is not None
        for widget in self._index_widgets[1:]:
            widget.setEnabled(remote and not busy)
        self.backend.setEnabled(not busy)
        self.aws_service.setEnabled(remote and not busy and bool(self.aws_region.text().strip()))
        has_url = bool(self.url.text().strip())
        self.test_button.setEnabled(remote and has_url and not busy and self.test_task is None)
        self.reindex_button.setEnabled(remote and has_url and not busy and self.library is not None)
        button = getattr(self, "ok_button", None)  # None while __init__ builds the form
        if button is not None:
            button.setEnabled(not busy)  # while a reindex runs, Cancel cancels it

    def _reindex_clicked(self) -> None:
        self.start_reindex(close_when_done=False)

    def _choose_ca_bundle(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "CA bundle", self.ca_bundle.text(),
                                                    "Certificates (*.pem *.crt *.cer);;All files (*)")
        if path:
            self.ca_bundle.setText(path)

    # -- values --------------------------------------------------------------------------------
    def index_settings(self) -> dict:
        """The search-index settings as edited (``settings["index"]``): a new dict.

        Keys left empty are dropped, ``verify_certs`` is written only when
        off and ``aws_service`` only when SigV4 is on and not ``es``; keys the
        dialog does not show are kept; a password is never included.
        """
        index = dict(self._original.get("index") or {})
        index.pop("password", None)
        index["backend"] = self.backend.currentData()
        for key, edit in (("url", self.url), ("index", self.index_name), ("username", self.username),
                          ("ca_certs", self.ca_bundle), ("aws_region", self.aws_region)):
            text = edit.text().strip()
            if text:
                index[key] = text
            else:
                index.pop(key, None)
        if self.verify_tls.isChecked():
            index.pop("verify_certs", None)
        else:
            index["verify_certs"] = False
        service = self.aws_service.currentData()
        if index.get("aws_region") and service != "es":
            index["aws_service"] = service
        else:
            index.pop("aws_service", None)
        return index

    def values(self) -> dict:
        """The settings as edited: a new dict (the original keys not shown here are kept)."""
        out = copy.deepcopy(self._original)
        out["engines"] = [name for name, check in self.engine_checks.items() if check.isChecked()]
        out["apis"] = [api for api, check in self.api_checks.items() if check.isChecked()]
        out["faces_enabled"] = self.faces.isChecked()
        out["blur_unsafe"] = self.blur_unsafe.isChecked()
        out["min_confidence"] = float(self.min_confidence.value())
        out["max_labels"] = self.max_labels.value() or None
        out["workers"] = self.workers.value() or None
        out["sidecars"] = self.sidecars_box.value()
        self.folders_box.apply_to(out)  # stack_raw_jpeg, watch_*, sidecars.folders
        out["index"] = self.index_settings()
        return out

    # -- test connection -----------------------------------------------------------------------
    def test_connection(self) -> BackgroundTask | None:
        """Check the OpenSearch cluster off the GUI thread; the outcome appears under the buttons.

        Returns the background task (None when the backend is not OpenSearch or has no URL).
        """
        settings = self.index_settings()
        if settings.get("backend") != "opensearch" or not settings.get("url"):
            self.index_status.setText("Choose the OpenSearch backend and enter the server URL first.")
            return None
        generation = self._tests.bump()
        session = self._session.value
        self.index_status.setText(with_warning(f"Testing the connection to {settings['url']}…", settings))

        def check(ctx):
            from mediaapp.search import factory

            return factory.check_connection(settings, timeout=TEST_TIMEOUT)

        def done(health: dict) -> None:
            if not self._alive(session):
                return
            self.test_task = None
            self._update_enabled()
            if self._tests.is_current(generation):
                self.show_health(health, settings)

        def failed(exc: BaseException) -> None:
            if not self._alive(session):
                return
            self.test_task = None
            self._update_enabled()
            if self._tests.is_current(generation):
                self.index_status.setText(with_warning(f"✘ The test failed: {exc}", settings))

        self.test_task = self.runner.run(check, done, failed, label="test search connection")
        self._update_enabled()
        return self.test_task

    def show_health(self, health: dict, settings: dict | None = None) -> None:
        """Show a ``check_connection`` result: the cluster's state, a reindex hint, or the error.

        ``settings``: the index settings tested (default: the fields now); a
        password in a URL the message quotes is shown as ``***``, and a
        warning line follows when they send credentials unencrypted.
        """
        if health.get("ok"):
            text = f"✔ Connected: {health.get('message', '')}."
            if health.get("needs_reindex") and self.library is not None:
                text += " Press “Reindex now” to fill it from the library."
        elif health.get("status") not in (None, "unreachable", "invalid"):
            text = f"✘ The cluster answered but is not healthy: {health.get('message', '')}."
        else:
            text = f"✘ {health.get('message') or 'The server cannot be reached.'}"
        self.index_status.setText(with_warning(text, self.index_settings() if settings is None else settings))

    # -- reindex -------------------------------------------------------------------------------
    def start_reindex(self, close_when_done: bool = False) -> BackgroundTask | None:
        """Fill the OpenSearch index the fields describe from the library, off the GUI thread.

        Progress shows in the bar; Cancel stops it (the old index stays in
        place). With ``close_when_done`` the dialog is accepted once the
        reindex succeeded. Returns the task (None without a library or an
        OpenSearch URL).
        """
        library = self.library
        settings = self.index_settings()
        if library is None or settings.get("backend") != "opensearch" or not settings.get("url"):
            self.index_status.setText("Reindexing needs an open library and an OpenSearch server URL.")
            return None
        self.index_status.setText(with_warning(f"Reindexing the library into {settings['url']}…", settings))
        self.reindex_progress.setRange(0, 0)  # busy until the first report
        self.reindex_progress.setVisible(True)
        last: dict = {}
        session = self._session.value

        def work(ctx):
            from mediaapp.search import factory

            target = factory.create_index("opensearch", library.root, settings)

            def progress(report) -> None:
                if ctx.cancelled:
                    raise ReindexCancelled()
                last["total"] = report.total
                ctx.progress(report)

            try:
                indexed = library.reindex(target, progress=progress)
            finally:
                target.close()
            return indexed, last.get("total", indexed)

        def on_progress(report) -> None:
            if not self._alive(session):
                return
            self.reindex_progress.setRange(0, max(1, report.total))
            self.reindex_progress.setValue(report.done)

        def done(result) -> None:
            if not self._alive(session):
                return
            indexed, total = result
            self._reindex_finished()
            self._filled = settings
            self.index_status.setText(with_warning(
                f"✔ Indexed {indexed} of {total} assets into {settings['url']} "
                f"(index “{settings.get('index') or 'mediaapp'}”).", settings))
            if close_when_done:
                super(SettingsDialog, self).accept()

        def failed(exc: BaseException) -> None:
            if not self._alive(session):
                return
            self._reindex_finished()
            if isinstance(exc, ReindexCancelled):
                self.index_status.setText("Reindex cancelled; the index was left as it was.")
            else:
                self.index_status.setText(with_warning(f"✘ Reindex failed, nothing was changed: {exc}", settings))

        self.reindex_task = self.runner.run(work, done, failed, on_progress, label="reindex")
        self._update_enabled()
        return self.reindex_task

    def _reindex_finished(self) -> None:
        self.reindex_task = None
        self.reindex_progress.setVisible(False)
        self._update_enabled()

    def _target_changed(self) -> bool:
        """Whether OK would point the library at an OpenSearch index other than the one it uses now."""
        now = self.index_settings()
        if now.get("backend") != "opensearch":
            return False
        before = self._original.get("index") or {}
        if self._filled is not None and all(self._filled.get(k) == now.get(k) for k in ("url", "index")):
            return False
        return (before.get("backend") != "opensearch" or before.get("url") != now.get("url")
                or (before.get("index") or "mediaapp") != (now.get("index") or "mediaapp"))

    def ask_reindex(self) -> str:
        """Ask whether to fill the new index now: ``"yes"``, ``"no"`` (switch empty) or ``"cancel"``."""
        answer = messages.ask(
            self, "Fill the new search index?",
            "The library will search the OpenSearch index at " + redact(self.url.text().strip()) + ". Fill it from "
            "the library now? Without this it only holds what is imported from now on.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes)
        return {QMessageBox.StandardButton.Yes: "yes", QMessageBox.StandardButton.No: "no"}.get(answer, "cancel")

    def accept(self) -> None:
        """OK: after switching to another OpenSearch index, offer to fill it first (in the background)."""
        if self.reindex_task is not None:
            return
        if self.library is not None and self._target_changed():
            choice = self.ask_reindex()
            if choice == "cancel":
                return
            if choice == "yes":
                self.start_reindex(close_when_done=True)
                return
        super().accept()

    def reject(self) -> None:
        """Cancel: stops a running reindex (the dialog stays open), else closes without changes."""
        if self.reindex_task is not None:
            self.reindex_task.cancel()
            self.index_status.setText("Cancelling the reindex…")
            return
        super().reject()

    def done(self, result: int) -> None:
        """Close the dialog with ``result``; its tasks are cancelled and what they deliver from now on is
        dropped (OK and Cancel never close it while a reindex runs, so that is only a safety net)."""
        self._session.bump()
        for task in (self.test_task, self.reindex_task):
            if task is not None:
                task.cancel()
        if self.test_task is not None:  # its result will be dropped: the button must not wait for it
            self.test_task = None
            self._update_enabled()
        super().done(result)

    def _alive(self, session: int) -> bool:
        """Whether a result of work started in ``session`` may still be shown (open, not deleted)."""
        return self._session.is_current(session) and shiboken6.isValid(self)
