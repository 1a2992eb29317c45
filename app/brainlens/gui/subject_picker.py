"""When one folder held several subjects (or frames of reference), the study browser offers them here;
picking one shows that study alone (its own series, cursor and layers)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QWidget

from brainlens.jobs.tasks import LoadedStudy


class SubjectPicker(QComboBox):
    def __init__(self, show: Callable[[LoadedStudy], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._show = show
        self.subjects: list[LoadedStudy] = []
        self.setToolTip("This folder holds unrelated subjects / frames of reference: one study each")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.activated.connect(self._on_pick)
        self.hide()

    def set_current(self, loaded: LoadedStudy) -> None:
        """Offer ``loaded``'s siblings (hidden when it was found alone) with ``loaded`` selected."""
        if [id(s) for s in loaded.subjects] != [id(s) for s in self.subjects]:
            self.subjects = list(loaded.subjects)
            self.blockSignals(True)
            self.clear()
            n = len(self.subjects)
            self.addItems([f"Study {i + 1} of {n}: {s.label}" for i, s in enumerate(self.subjects)])
            self.blockSignals(False)
        self.setVisible(len(self.subjects) > 1)
        if loaded in self.subjects:
            self.setCurrentIndex(self.subjects.index(loaded))

    def _on_pick(self, index: int) -> None:
        if 0 <= index < len(self.subjects):
            self._show(self.subjects[index])
