"""``CloudSettingsDialog``: the cloud engine's settings, the connection test and the cost estimate.

Opened from the main window with ``CloudSettingsDialog(library, parent)``.
Shows every ``mediaapp.cloud.config.CloudConfig`` setting plus the
library's engines (local, rekognition or both) and analyses (labels, text,
celebrities). "Test connection" and "Estimate" run on a background thread
(``mediaapp.ui.background.BackgroundRunner``); their results appear in the
dialog. "Save" validates and writes the library settings; an invalid value
is shown, never saved. No credentials are asked for or stored: the profile
names one of boto3's standard credential sources.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from mediaapp.cloud.config import SSE_MODES, UPLOAD_MODES, CloudConfig, load_config, save_config
from mediaapp.core.types import Api
from mediaapp.ui.background import BackgroundRunner

#: The analyses offered, with their labels in the dialog.
API_CHOICES = [(Api.DETECT_LABELS, "Labels"), (Api.DETECT_TEXT, "Text"),
               (Api.RECOGNIZE_CELEBRITIES, "Celebrities")]


class CloudSettingsDialog(QDialog):
    """Cloud settings of ``library`` (a ``mediaapp.library.Library``), with test and estimate actions.

    ``runner`` is the ``BackgroundRunner`` used for the slow actions (default: a private one).
    """

    def __init__(self, library, parent: QWidget | None = None, runner: BackgroundRunner | None = None):
        super().__init__(parent)
        self.library = library
        self.runner = runner or BackgroundRunner(max_threads=2, parent=self)
        self.setWindowTitle("Cloud analysis (Amazon Rekognition)")
        try:
            config = load_config(library.settings)
        except ValueError:
            config = CloudConfig()
        layout = QVBoxLayout(self)

        aws = QGroupBox("AWS")
        form = QFormLayout(aws)
        self.profile = QLineEdit(config.profile or "")
        self.profile.setPlaceholderText("default credential chain")
        self.region = QLineEdit(config.region or "")
        self.region.setPlaceholderText("e.g. eu-west-1")
        self.endpoint = QLineEdit(config.endpoint_url or "")
        self.endpoint.setPlaceholderText("AWS (leave empty)")
        form.addRow("Profile", self.profile)
        form.addRow("Region", self.region)
        form.addRow("Endpoint URL", self.endpoint)
        layout.addWidget(aws)

        s3 = QGroupBox("Upload to S3")
        form = QFormLayout(s3)
        self.bucket = QLineEdit(config.bucket or "")
        self.bucket.setPlaceholderText("none: images go inside each request")
        self.prefix = QLineEdit(config.prefix)
        self.upload = QComboBox()
        self.upload.addItems(UPLOAD_MODES)
        self.upload.setCurrentText(config.upload)
        self.proxy_side = QSpinBox()
        self.proxy_side.setRange(64, 10000)
        self.proxy_side.setValue(int(config.proxy_max_side))
        self.proxy_side.setSuffix(" px")
        self.sse = QComboBox()
        self.sse.addItems(SSE_MODES)
        self.sse.setCurrentText(config.sse)
        self.kms_key = QLineEdit(config.kms_key_id or "")
        self.kms_key.setPlaceholderText("AWS-managed key")
        self.delete_after = QCheckBox("Delete from S3 after analysis")
        self.delete_after.setChecked(bool(config.delete_after))
        form.addRow("Bucket", self.bucket)
        form.addRow("Key prefix", self.prefix)
        form.addRow("Upload", self.upload)
        form.addRow("Proxy size", self.proxy_side)
        form.addRow("Encryption", self.sse)
        form.addRow("KMS key id", self.kms_key)
        form.addRow("", self.delete_after)
        layout.addWidget(s3)

        run = QGroupBox("Analysis")
        form = QFormLayout(run)
        engines = library.settings.get("engines", ["local"])
        self.engine_local = QCheckBox("On this computer (local)")
        self.engine_local.setChecked("local" in engines)
        self.engine_cloud = QCheckBox("Amazon Rekognition")
        self.engine_cloud.setChecked("rekognition" in engines)
        row = QHBoxLayout()
        row.addWidget(self.engine_local)
        row.addWidget(self.engine_cloud)
        form.addRow("Engines", row)
        apis = set(library.settings.get("apis", []))
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
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    # -- values --------------------------------------------------------------------------------
    def config(self) -> CloudConfig:
        """The ``CloudConfig`` the fields describe. Raises ``ValueError`` when invalid."""
        config = CloudConfig(
            profile=self.profile.text().strip() or None, region=self.region.text().strip() or None,
            bucket=self.bucket.text().strip() or None, prefix=self.prefix.text().strip(),
            sse=self.sse.currentText(), kms_key_id=self.kms_key.text().strip() or None,
            upload=self.upload.currentText(), proxy_max_side=self.proxy_side.value(),
            delete_after=self.delete_after.isChecked(), max_concurrency=self.concurrency.value(),
            tps=self.tps.value(), image_properties=self.image_properties.isChecked(),
            budget_per_run=self.budget_run.value() or None, budget_per_month=self.budget_month.value() or None,
            endpoint_url=self.endpoint.text().strip() or None)
        try:  # keep what the dialog does not show
            stored = load_config(self.library.settings)
            config.prices_path = stored.prices_path
            config.max_attempts = stored.max_attempts
        except ValueError:
            pass
        config.validate()
        return config

    def engines(self) -> list[str]:
        """The checked engines."""
        return [name for name, box in (("local", self.engine_local), ("rekognition", self.engine_cloud))
                if box.isChecked()]

    def apis(self) -> list[str]:
        """The checked analyses (operation names)."""
        return [api.value for api, box in self.api_boxes.items() if box.isChecked()]

    # -- actions -------------------------------------------------------------------------------
    def save(self) -> None:
        """Validate and save; keeps the dialog open with the reason when a value is invalid."""
        from mediaapp.settings import load_settings, save_settings

        try:
            config = self.config()
            if not self.engines():
                raise ValueError("choose at least one engine")
            if not self.apis():
                raise ValueError("choose at least one analysis")
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        save_config(self.library, config)
        stored = load_settings(self.library.root)
        stored["engines"] = self.library.settings["engines"] = self.engines()
        stored["apis"] = self.library.settings["apis"] = self.apis()
        save_settings(self.library.root, stored)
        self.accept()

    def _busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.estimate_button.setEnabled(not busy)

    def test_connection(self):
        """Run the connection test off the GUI thread; the checks appear in the output box."""
        from mediaapp.cloud.connection import check_connection

        try:
            config = self.config()
        except ValueError as exc:
            self.error.setText(str(exc))
            return None
        self.error.clear()
        self._busy(True)
        self.output.setPlainText("Testing the connection…")

        def done(checks) -> None:
            self._busy(False)
            self.output.setPlainText("\n".join(f"{'✔' if c.ok else '✘'} {c.name}: {c.message}" for c in checks))

        return self.runner.run(lambda ctx: check_connection(config), done, self._failed, label="test connection")

    def choose_and_estimate(self) -> None:
        """Ask for a folder, then estimate it."""
        folder = QFileDialog.getExistingDirectory(self, "Folder to estimate")
        if folder:
            self.estimate([folder])

    def estimate(self, paths: list[str]):
        """Estimate analysing ``paths`` with the engines and analyses checked (off the GUI thread)."""
        from mediaapp.cloud.cost import estimate, fmt_usd

        apis = self.apis()
        self._busy(True)
        self.output.setPlainText("Estimating…")
        library = self.library

        def work(ctx):
            return estimate(library, paths, apis, "rekognition",
                            progress=lambda done, total: ctx.progress(f"Hashing {done}/{total}…"))

        def done(est) -> None:
            self._busy(False)
            lines = [f"{est.images} images, {est.calls} calls to make, {est.cached} already stored (free)",
                     f"Rekognition {fmt_usd(est.usd)} + S3 {fmt_usd(est.s3_usd)} = {fmt_usd(est.total_usd)}",
                     f"Prices of {est.price_date}: {est.price_source}"]
            if est.exceeds_run_budget:
                lines.append(f"The run budget of {fmt_usd(est.budget_per_run)} would stop the run early.")
            if est.exceeds_month_budget:
                lines.append(f"The month budget of {fmt_usd(est.budget_per_month)} would stop the run early "
                             f"({fmt_usd(est.month_spent)} already spent).")
            self.output.setPlainText("\n".join(lines))

        return self.runner.run(work, done, self._failed, self.output.setPlainText, label="estimate")

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.output.setPlainText(f"Failed: {exc}")


def _money(value: float | None) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0, 1_000_000)
    box.setDecimals(2)
    box.setPrefix("$")
    box.setSpecialValueText("no limit")
    box.setValue(float(value or 0))
    return box
