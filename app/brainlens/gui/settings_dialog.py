"""AI settings (persisted in QSettings): device, uncertainty samples, classifier model."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from brainlens.jobs.ai_tasks import SAMPLES

DEVICES = {"Auto (CUDA, then Apple MPS, then CPU)": "auto", "CUDA (NVIDIA GPU)": "cuda", "MPS (Apple GPU)": "mps",
           "CPU": "cpu"}
SAMPLE_CHOICES = {f"Standard ({SAMPLES['fast']} samples, as the model card measured)": "fast",
                  f"Thorough ({SAMPLES['thorough']} samples)": "thorough"}


def bundled_classifiers() -> list[str]:
    """Classifier names in the model manifest (the registry reads JSON only; no torch)."""
    try:
        from brainlens.ml.registry import load_manifest

        return [name for name, e in load_manifest().items() if e.kind == "classifier"] or ["brainresnet"]
    except Exception:  # noqa: BLE001 -- a broken manifest is reported when a model loads, not here
        return ["brainresnet"]


class SettingsDialog(QDialog):
    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AI settings")
        self.settings = settings
        form = QFormLayout(self)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(next(k for k, v in DEVICES.items() if v == settings.value("ai/device", "auto")))
        form.addRow("Device", self.device)
        self.samples = QComboBox()
        self.samples.addItems(list(SAMPLE_CHOICES))
        current = settings.value("ai/uncertainty", "fast")
        self.samples.setCurrentText(next(k for k, v in SAMPLE_CHOICES.items() if v == current))
        form.addRow("Uncertainty", self.samples)
        self.classifier = QComboBox()
        self.classifier.addItems(bundled_classifiers())
        from brainlens.ml.classifier_default import default_classifier  # manifest JSON only, no torch

        self.classifier.setCurrentText(str(settings.value("ai/classifier", "") or default_classifier()))
        self.classifier.setEnabled(self.classifier.count() > 1)
        form.addRow("Classifier", self.classifier)
        form.addRow(QLabel("A device that is not present falls back to Auto; the status bar shows the one used."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        self.settings.setValue("ai/device", DEVICES[self.device.currentText()])
        self.settings.setValue("ai/uncertainty", SAMPLE_CHOICES[self.samples.currentText()])
        self.settings.setValue("ai/classifier", self.classifier.currentText())
        self.settings.sync()
        super().accept()
