"""The Settings dialog: analysis engines and APIs, face features, the index backend.

It edits a copy of the library's settings dict (``mediaapp.settings``); the
main window loads and saves it in the background with ``load_settings`` /
``save_settings`` and reopens the library so the new settings apply. Unknown
keys are kept untouched.
"""

from __future__ import annotations

import copy

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget)

from mediaapp.core.types import Api

#: Engines offered (name -> description); others found in the settings are kept and shown too.
ENGINES = {"local": "On this computer (OCR, objects, faces)",
           "rekognition": "Amazon Rekognition (needs AWS credentials; costs money)"}
#: Search backends offered.
BACKENDS = {"sqlite": "Embedded (SQLite, in the library folder)", "opensearch": "OpenSearch server"}
API_TITLES = {Api.DETECT_LABELS.value: "Labels and objects", Api.DETECT_TEXT.value: "Text (OCR)",
              Api.RECOGNIZE_CELEBRITIES.value: "Faces and people"}


class SettingsDialog(QDialog):
    """Edits ``settings`` (a dict shaped like ``mediaapp.settings.DEFAULTS``).

    ``values()`` returns the edited copy. The dialog never writes files.
    """

    def __init__(self, settings: dict, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = copy.deepcopy(settings)
        layout = QVBoxLayout(self)

        engines_box = QGroupBox("Analysis engines")
        engines_layout = QVBoxLayout(engines_box)
        self.engine_checks: dict[str, QCheckBox] = {}
        names = list(ENGINES) + [e for e in settings.get("engines", []) if e not in ENGINES]
        for name in names:
            check = QCheckBox(f"{name} — {ENGINES.get(name, 'installed engine')}")
            check.setChecked(name in settings.get("engines", []))
            self.engine_checks[name] = check
            engines_layout.addWidget(check)
        layout.addWidget(engines_box)

        apis_box = QGroupBox("What to detect")
        apis_layout = QVBoxLayout(apis_box)
        self.api_checks: dict[str, QCheckBox] = {}
        for api in Api:
            check = QCheckBox(API_TITLES[api.value])
            check.setChecked(api.value in settings.get("apis", []))
            self.api_checks[api.value] = check
            apis_layout.addWidget(check)
        self.faces = QCheckBox("Face detection and recognition")
        self.faces.setToolTip("Off: no face is detected, stored or compared")
        self.faces.setChecked(bool(settings.get("faces_enabled", True)))
        apis_layout.addWidget(self.faces)
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
        note = QLabel("Passwords are read from the environment, never stored here.")
        note.setWordWrap(True)
        index_form.addRow(note)
        layout.addWidget(index_box)
        self.backend.currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

        hint = QLabel("Changes apply to the next import; use “Re-analyse with current models” to update "
                      "images already analysed.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)

    def _update_enabled(self) -> None:
        remote = self.backend.currentData() != "sqlite"
        self.url.setEnabled(remote)
        self.index_name.setEnabled(remote)

    def values(self) -> dict:
        """The settings as edited: a new dict (the original keys not shown here are kept)."""
        out = copy.deepcopy(self._original)
        out["engines"] = [name for name, check in self.engine_checks.items() if check.isChecked()]
        out["apis"] = [api for api, check in self.api_checks.items() if check.isChecked()]
        out["faces_enabled"] = self.faces.isChecked()
        out["min_confidence"] = float(self.min_confidence.value())
        out["max_labels"] = self.max_labels.value() or None
        out["workers"] = self.workers.value() or None
        index = dict(out.get("index") or {})
        index["backend"] = self.backend.currentData()
        for key, edit in (("url", self.url), ("index", self.index_name)):
            text = edit.text().strip()
            if text:
                index[key] = text
            else:
                index.pop(key, None)
        out["index"] = index
        return out
