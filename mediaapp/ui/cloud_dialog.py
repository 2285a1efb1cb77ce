"""``CloudSettingsDialog``: the cloud engine's settings, the engines per library and folder, the connection
test and the cost estimate.

Opened from the main window (*File → Cloud (S3 + Rekognition)…*) with
``CloudSettingsDialog(library, parent, runner)``. Shows the
``mediaapp.cloud.config.CloudConfig`` settings people change (the others,
e.g. ``multipart_chunk_mb``, ``max_attempts``, ``prices_path``, and keys a
newer version wrote, are kept as stored), the library's engine choice
(local, Amazon Rekognition, or both), the analyses (labels, text,
celebrities) and the per-folder engine rules (``folder_engines``: absolute
folder -> engines; the deepest folder holding an image wins over the
library's choice). "Test connection" and "Estimate cost…" run on a
background thread (``mediaapp.ui.background.BackgroundRunner``) with the
values shown, saved or not; their results appear in the dialog. "Save"
validates (an invalid value is shown, never saved), writes the library
settings on a background thread, then closes the dialog; while the write
runs, Cancel and Esc wait for it (the caller reopens the library after a
save, so the dialog must not close as "not saved" over a write in
progress). No credentials are asked for or stored: the profile names one
of boto3's standard credential sources.

The settings sit in a scrolling form (``scrolling.scroll_form``) above the
output box and the buttons, so the dialog fits a 700-pixel-high screen.

The runner usually outlives the dialog (it is the main window's), so the
results of its tasks may arrive after the dialog was closed or deleted:
closing the dialog cancels its test and estimate and drops whatever they
deliver later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mediaapp.analysis.registry import engine_names
from mediaapp.cloud.config import (
    SETTINGS_KEY,
    SSE_MODES,
    UPLOAD_MODES,
    CloudConfig,
    config_with,
    folder_rules,
    normalize_folder,
    save_config,
    save_library_choices,
)
from mediaapp.core.apis import API_SPECS
from mediaapp.core.redact import redact
from mediaapp.core.types import CLOUD_ENGINE, LOCAL_ENGINE, Api
from mediaapp.ui.background import BackgroundRunner, BackgroundTask, Generation
from mediaapp.ui.scrolling import initial_size, scroll_form

#: The analyses offered, with their labels in the dialog. The video ``Get*`` APIs are not offered: a video gets
#: them in place of the image analyses chosen here (``ApiSpec.video``, ``core.apis.apis_for_media``).
API_CHOICES = [(s.api, s.short.capitalize()) for s in API_SPECS.values() if s.media != "video"]

#: The engine choices offered (for the library and for each folder rule): title -> engine names.
ENGINE_CHOICES = [("On this computer (local)", [LOCAL_ENGINE]), ("Amazon Rekognition", [CLOUD_ENGINE]),
                  ("Both (local and Rekognition)", [LOCAL_ENGINE, CLOUD_ENGINE])]


class EstimateCancelled(Exception):
    """Raised inside the background estimate when it was cancelled (the dialog was closed)."""


def engine_combo(engines: list[str] | None) -> QComboBox:
    """A combo box of ``ENGINE_CHOICES`` showing ``engines`` (local when they match no choice)."""
    box = QComboBox()
    for title, names in ENGINE_CHOICES:
        box.addItem(title, names)
    wanted = sorted(engines or [])
    box.setCurrentIndex(next((i for i, (_, names) in enumerate(ENGINE_CHOICES) if sorted(names) == wanted), 0))
    return box


class CloudSettingsDialog(QDialog):
    """Cloud settings of ``library`` (a ``mediaapp.library.Library``), with test and estimate actions.

    ``runner`` is the ``BackgroundRunner`` for the slow actions (default: a
    private one); it may outlive the dialog. ``saved`` is True once the
    settings were written. ``save_task`` is the write in progress (None when
    no save is running).
    """

    def __init__(self, library, parent: QWidget | None = None, runner: BackgroundRunner | None = None):
        super().__init__(parent)
        self.library = library
        self.runner = runner or BackgroundRunner(max_threads=2, parent=self)
        self.saved = False
        self.save_task: BackgroundTask | None = None
        self._session = Generation()  # bumped when the dialog closes: later results are dropped
        self._tasks: list[BackgroundTask] = []  # started by this dialog, cancelled when it closes
        self.setWindowTitle("Cloud analysis (Amazon S3 + Rekognition)")
        self._stored = dict(library.settings.engine_config.get(SETTINGS_KEY) or {})
        try:
            config = config_with(self._stored)
        except (TypeError, ValueError):
            config = CloudConfig()
        outer = QVBoxLayout(self)
        form_widget = QWidget()
        form_widget.setObjectName("cloudForm")
        layout = QVBoxLayout(form_widget)
        layout.setContentsMargins(0, 0, 0, 0)

        aws = QGroupBox("AWS")
        form = QFormLayout(aws)
        self.profile = _line_edit(config.profile, "default credential chain")
        self.region = _line_edit(config.region, "e.g. eu-west-1")
        self.endpoint = _line_edit(config.endpoint_url, "AWS (leave empty)")
        form.addRow("Profile", self.profile)
        form.addRow("Region", self.region)
        form.addRow("Endpoint URL", self.endpoint)
        credentials = QLabel("Credentials are never asked for or kept here: the profile names one of your AWS "
                             "credential sources (~/.aws files, environment variables, SSO or an instance role).")
        credentials.setWordWrap(True)
        form.addRow(credentials)
        layout.addWidget(aws)

        s3 = QGroupBox("Upload to S3")
        form = QFormLayout(s3)
        self.bucket = _line_edit(config.bucket, "none: images go inside each request")
        self.prefix = QLineEdit(config.prefix)
        self.upload = QComboBox()
        self.upload.addItems(UPLOAD_MODES)
        self.upload.setCurrentText(config.upload)
        self.proxy_side = QSpinBox()
        self.proxy_side.setRange(64, 10000)
        self.proxy_side.setValue(int(config.proxy_max_side))
        self.proxy_side.setSuffix(" px")
        self.proxy_quality = QSpinBox()
        self.proxy_quality.setRange(30, 95)  # CloudConfig.validate's range
        self.proxy_quality.setValue(int(config.proxy_quality))
        self.sse = QComboBox()
        self.sse.addItems(SSE_MODES)
        self.sse.setCurrentText(config.sse)
        self.kms_key = _line_edit(config.kms_key_id, "AWS-managed key")
        self.delete_after = QCheckBox("Delete from S3 after analysis")
        self.delete_after.setChecked(bool(config.delete_after))
        form.addRow("Bucket", self.bucket)
        form.addRow("Key prefix", self.prefix)
        form.addRow("Upload", self.upload)
        form.addRow("Proxy size", self.proxy_side)
        form.addRow("Proxy JPEG quality", self.proxy_quality)
        form.addRow("Encryption", self.sse)
        form.addRow("KMS key id", self.kms_key)
        form.addRow("", self.delete_after)
        layout.addWidget(s3)

        video = QGroupBox("Rekognition Video (MP4 and MOV in the bucket; other videos are analysed on this computer)")
        form = QFormLayout(video)
        self.video_topic = _line_edit(config.video_sns_topic_arn, "none: finished jobs are found by polling")
        self.video_role = _line_edit(config.video_role_arn, "arn:aws:iam::ACCOUNT:role/NAME (with a topic)")
        self.video_queue = _line_edit(config.video_sqs_queue_url,
                                      "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (optional)")
        form.addRow("SNS topic ARN", self.video_topic)
        form.addRow("Publishing role ARN", self.video_role)
        form.addRow("SQS queue URL", self.video_queue)
        layout.addWidget(video)

        run = QGroupBox("Analysis")
        form = QFormLayout(run)
        self.engine_choice = engine_combo(list(library.settings.engines))
        form.addRow("Engines", self.engine_choice)
        apis = set(library.settings.apis)
        self.api_boxes: dict[Api, QCheckBox] = {}
        row = QHBoxLayout()
        for api, text in API_CHOICES:
            box = QCheckBox(text)
            box.setChecked(api.value in apis)
            self.api_boxes[api] = box
            row.addWidget(box)
        form.addRow("Analyses", row)
        self.image_properties = QCheckBox("Image properties with labels (priced extra)")
        self.image_properties.setChecked(bool(config.image_properties))
        form.addRow("", self.image_properties)
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(int(config.max_concurrency))
        self.tps = QDoubleSpinBox()
        self.tps.setRange(0.1, 1000)
        self.tps.setValue(float(config.tps))
        self.tps.setSuffix(" calls/s")
        self.budget_run = _money(config.budget_per_run)
        self.budget_month = _money(config.budget_per_month)
        form.addRow("Images at once", self.concurrency)
        form.addRow("Rate limit", self.tps)
        form.addRow("Budget per run", self.budget_run)
        form.addRow("Budget per month", self.budget_month)
        layout.addWidget(run)

        rules = QGroupBox("Engines per folder (the deepest folder holding an image wins)")
        rules_layout = QVBoxLayout(rules)
        self.rules_table = QTableWidget(0, 2)
        self.rules_table.setObjectName("folderRules")
        self.rules_table.setHorizontalHeaderLabels(["Folder", "Engines"])
        self.rules_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.rules_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rules_table.verticalHeader().hide()
        self.rules_table.setMinimumHeight(90)
        for folder, engines in sorted(folder_rules(library.settings).items()):
            self.add_folder_rule(folder, engines)
        rules_layout.addWidget(self.rules_table)
        buttons_row = QHBoxLayout()
        self.add_rule_button = QPushButton("Add folder…")
        self.add_rule_button.clicked.connect(self.choose_rule_folder)
        self.remove_rule_button = QPushButton("Remove")
        self.remove_rule_button.clicked.connect(self.remove_selected_rules)
        buttons_row.addWidget(self.add_rule_button)
        buttons_row.addWidget(self.remove_rule_button)
        buttons_row.addStretch(1)
        rules_layout.addLayout(buttons_row)
        layout.addWidget(rules)
        layout.addStretch(1)
        #: The scrolling form holding every setting (the output, actions and buttons stay below it).
        self.scroll = scroll_form(form_widget)
        outer.addWidget(self.scroll, 1)
        layout = outer

        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setMinimumHeight(120)
        layout.addWidget(self.output)
        actions = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.estimate_button = QPushButton("Estimate cost…")
        self.estimate_button.clicked.connect(self.choose_and_estimate)
        actions.addWidget(self.test_button)
        actions.addWidget(self.estimate_button)
        actions.addStretch(1)
        layout.addLayout(actions)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        initial_size(self, QSize(max(form_widget.sizeHint().width() + 40, 560),
                                 form_widget.sizeHint().height() + 260))

    # -- values --------------------------------------------------------------------------------
    def config(self) -> CloudConfig:
        """The ``CloudConfig`` the fields describe, over the stored one (fields the dialog does not show keep
        their stored values). Raises ``ValueError`` when invalid."""
        return config_with(
            self._stored,
            profile=self.profile.text().strip() or None, region=self.region.text().strip() or None,
            bucket=self.bucket.text().strip() or None, prefix=self.prefix.text().strip(),
            sse=self.sse.currentText(), kms_key_id=self.kms_key.text().strip() or None,
            upload=self.upload.currentText(), proxy_max_side=self.proxy_side.value(),
            proxy_quality=self.proxy_quality.value(), delete_after=self.delete_after.isChecked(),
            max_concurrency=self.concurrency.value(), tps=self.tps.value(),
            image_properties=self.image_properties.isChecked(),
            budget_per_run=self.budget_run.value() or None, budget_per_month=self.budget_month.value() or None,
            endpoint_url=self.endpoint.text().strip() or None,
            video_sns_topic_arn=self.video_topic.text().strip() or None,
            video_role_arn=self.video_role.text().strip() or None,
            video_sqs_queue_url=self.video_queue.text().strip() or None)

    def engines(self) -> list[str]:
        """The library's engines chosen (``local``, ``rekognition`` or both)."""
        return list(self.engine_choice.currentData())

    def apis(self) -> list[str]:
        """The checked analyses (operation names)."""
        return [api.value for api, box in self.api_boxes.items() if box.isChecked()]

    def folder_rules(self) -> dict[str, list[str]]:
        """The folder rules in the table: absolute folder -> engines."""
        out: dict[str, list[str]] = {}
        for row in range(self.rules_table.rowCount()):
            folder = self.rules_table.item(row, 0).text()
            out[folder] = list(self.rules_table.cellWidget(row, 1).currentData())
        return out

    def add_folder_rule(self, folder: str, engines: list[str]) -> int:
        """Add (or update) the rule of ``folder`` (made absolute); returns its row."""
        folder = normalize_folder(folder)
        for row in range(self.rules_table.rowCount()):
            if self.rules_table.item(row, 0).text() == folder:
                self.rules_table.setCellWidget(row, 1, engine_combo(engines))
                return row
        row = self.rules_table.rowCount()
        self.rules_table.insertRow(row)
        self.rules_table.setItem(row, 0, QTableWidgetItem(folder))
        self.rules_table.setCellWidget(row, 1, engine_combo(engines))
        return row

    def choose_rule_folder(self) -> None:
        """Ask for a folder and add a rule for it (Amazon Rekognition at first; change it in the table)."""
        folder = QFileDialog.getExistingDirectory(self, "Folder with its own engines")
        if folder:
            self.add_folder_rule(folder, [CLOUD_ENGINE])

    def remove_selected_rules(self) -> None:
        """Remove the selected rows of the folder rules."""
        for row in sorted({i.row() for i in self.rules_table.selectedIndexes()}, reverse=True):
            self.rules_table.removeRow(row)

    # -- actions -------------------------------------------------------------------------------
    def save(self):
        """Validate, then write the settings on a worker and close the dialog.

        An invalid value is shown and nothing is written (returns None);
        otherwise returns the ``BackgroundTask`` of the write. A failed write
        is shown and the dialog stays open.
        """
        try:
            config = self.config()
            if not self.apis():
                raise ValueError("choose at least one analysis")
        except (TypeError, ValueError) as exc:
            self.error.setText(redact(str(exc)))
            return None
        self.error.clear()
        library, engines, apis, rules = self.library, self.engines(), self.apis(), self.folder_rules()

        def write(ctx) -> None:
            save_library_choices(library, known_engines=engine_names(), engines=engines, apis=apis,
                                 folder_engines=rules)
            save_config(library, config)

        def written(_result) -> None:
            self.save_task = None
            self.saved = True
            self.buttons.setEnabled(True)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.save_task = None
            self.buttons.setEnabled(True)
            self.error.setText(redact(f"Not saved: {exc}"))

        self.buttons.setEnabled(False)
        self.save_task = self._run(write, written, failed, label="save cloud settings")
        return self.save_task

    @property
    def saving(self) -> bool:
        """True while a save is being written."""
        return self.save_task is not None

    def reject(self) -> None:
        """Cancel or Esc: close without saving; while a save is being written, wait for it instead
        (the dialog closes as saved once the write is done, or stays open showing why it failed)."""
        if self.saving:
            self.output.setPlainText("Saving… the dialog closes once the settings are written.")
            return
        super().reject()

    def done(self, result: int) -> None:
        """Close the dialog with ``result``: its running test and estimate are cancelled, and what any of
        its tasks delivers from now on is dropped."""
        self._session.bump()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        super().done(result)

    def _run(self, work: Callable[[Any], Any], on_success: Callable[[Any], None],
             on_failure: Callable[[BaseException], None], on_progress: Callable[[Any], None] | None = None,
             *, label: str) -> BackgroundTask:
        """``runner.run`` with callbacks that do nothing once the dialog was closed or deleted."""
        session = self._session.value

        def guard(callback):
            if callback is None:
                return None

            def call(arg) -> None:
                if self._session.is_current(session) and shiboken6.isValid(self):
                    callback(arg)
            return call

        self._tasks = [task for task in self._tasks if not task.done]
        task = self.runner.run(work, guard(on_success), guard(on_failure), guard(on_progress), label=label)
        self._tasks.append(task)
        return task

    def _busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.estimate_button.setEnabled(not busy)

    def test_connection(self):
        """Run the connection test with the values shown, off the GUI thread; the checks appear in the output box.

        Returns the ``BackgroundTask`` (None when a value is invalid).
        """
        from mediaapp.services import connection

        try:
            config = self.config()
        except (TypeError, ValueError) as exc:
            self.error.setText(redact(str(exc)))
            return None
        self.error.clear()
        self._busy(True)
        self.output.setPlainText("Testing the connection…")

        def done(checks) -> None:
            self._busy(False)
            self.output.setPlainText("\n".join(f"{'✔' if c.ok else '✘'} {c.name}: {c.message}" for c in checks))

        return self._run(lambda ctx: connection.check_connection(config), done, self._failed,
                         label="test connection")

    def choose_and_estimate(self) -> None:
        """Ask for a folder, then estimate it."""
        folder = QFileDialog.getExistingDirectory(self, "Folder to estimate")
        if folder:
            self.estimate([folder])

    def estimate(self, paths: list[str]):
        """Estimate analysing ``paths`` with Rekognition and the analyses and settings shown (saved or not),
        off the GUI thread. Returns the ``BackgroundTask`` (None when a value is invalid).

        Cancelling the task (closing the dialog does) stops the estimate at the next file; it then fails
        with ``EstimateCancelled``.
        """
        from mediaapp.services import costs as cost

        try:
            config = self.config()
        except (TypeError, ValueError) as exc:
            self.error.setText(redact(str(exc)))
            return None
        apis = self.apis()
        if not apis:
            self.error.setText("choose at least one analysis")
            return None
        self.error.clear()
        self._busy(True)
        self.output.setPlainText("Estimating…")
        library = self.library

        def work(ctx):
            def progress(done: int, total: int) -> None:  # called after each file
                if ctx.cancelled:
                    raise EstimateCancelled()
                ctx.progress(f"Reading {done}/{total} files…")

            if ctx.cancelled:
                raise EstimateCancelled()
            # the library's default analyses, as an import without --apis runs them: opt-in APIs stay out of
            # the cloud (ApiSpec.paid_default), so the estimate never prices DetectFaces the import won't buy
            return library.costs.estimate(paths, apis, CLOUD_ENGINE, config=config, progress=progress, named=False)

        def done(est) -> None:
            self._busy(False)
            self.output.setPlainText("\n".join(cost.describe_estimate(est)))

        return self._run(work, done, self._failed, self.output.setPlainText, label="estimate")

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.output.setPlainText("Cancelled." if isinstance(exc, EstimateCancelled) else redact(f"Failed: {exc}"))


def _line_edit(text: str | None, placeholder: str) -> QLineEdit:
    """A ``QLineEdit`` holding ``text`` ("" for None) that shows ``placeholder`` while empty."""
    edit = QLineEdit(text or "")
    edit.setPlaceholderText(placeholder)
    return edit


def _money(value: float | None) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0, 1_000_000)
    box.setDecimals(4)  # budgets below a cent (one image costs $0.001 or less) must survive a save
    box.setPrefix("$")
    box.setSpecialValueText("no limit")
    box.setValue(float(value or 0))
    return box
