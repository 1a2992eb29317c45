"""Layer panel: per overlay a visibility checkbox and opacity slider; labels get outline mode and
per-label toggles, heatmaps a threshold slider. Rows write to the layer; the views redraw from it."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from brainlens.core.colors import COLORMAPS, label_color
from brainlens.core.scene import HeatmapLayer, LabelLayer, Layer, Scene
from brainlens.gui.colour_bar import ColourBar


def _slider(value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(value)
    return s


def _value_label(slider: QSlider, text) -> QLabel:
    """A number beside a slider that follows it (``text(value) -> str``)."""
    label = QLabel(text(slider.value()))
    label.setMinimumWidth(40)
    slider.valueChanged.connect(lambda v: label.setText(text(v)))
    return label


class LayerRow(QFrame):
    """Controls for one layer."""

    def __init__(self, layer: Layer, scene: Scene, parent: QWidget | None = None,
                 remove: Callable[[Layer], object] | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        remove = remove or scene.remove_layer
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        self.visible = QCheckBox()
        self.visible.setToolTip("Show this layer")
        self.visible.setChecked(layer.visible)
        self.visible.toggled.connect(lambda on: layer.update(visible=on))
        # zero-width spaces let file-style names (a_b_c.nii) wrap at separators instead of being cut off
        breakable = html.escape(layer.name).replace("_", "_&#8203;").replace(".", ".&#8203;")
        name = QLabel(f"<b>{breakable}</b>")
        name.setToolTip(layer.name)
        name.setWordWrap(True)
        name.setMinimumWidth(90)  # wider rows overflow the dock once its scroll bar shows (4 layers)
        self.remove = QToolButton()
        self.remove.setText("\u2715")
        self.remove.setToolTip("Remove this layer from the view (files on disk are not touched)")
        self.remove.clicked.connect(lambda: remove(layer))
        grid.addWidget(self.visible, 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(name, 0, 1)
        grid.addWidget(self.remove, 0, 2, Qt.AlignmentFlag.AlignTop)
        if not layer.fits(scene.base):
            note = QLabel("(on another grid than the series shown)")
            note.setStyleSheet("color: gray;")
            grid.addWidget(note, 1, 0, 1, 2)
        grid.addWidget(QLabel("Opacity"), 2, 0)
        self.opacity = _slider(round(layer.opacity * 100))
        self.opacity.valueChanged.connect(lambda v: layer.update(opacity=v / 100))
        grid.addWidget(self.opacity, 2, 1)
        grid.addWidget(_value_label(self.opacity, lambda v: f"{v} %"), 2, 2)
        self.label_boxes: dict[int, QCheckBox] = {}
        self.outline: QCheckBox | None = None
        self.threshold: QSlider | None = None
        self.colormap: QComboBox | None = None
        if isinstance(layer, LabelLayer):
            self.outline = QCheckBox("Outline only")
            self.outline.setChecked(layer.outline)
            self.outline.toggled.connect(lambda on: layer.update(outline=on))
            grid.addWidget(self.outline, 3, 0, 1, 2)
            labels = QVBoxLayout()
            labels.setSpacing(0)
            for value in layer.present:
                r, g, b = layer.colors.get(value) or label_color(value)
                box = QCheckBox(layer.label_names.get(value, f"label {value}"))
                box.setStyleSheet(f"QCheckBox {{ color: rgb({r},{g},{b}); }}")
                box.setChecked(value not in layer.hidden_labels)
                box.toggled.connect(lambda on, v=value: self._toggle_label(v, on))
                self.label_boxes[value] = box
                labels.addWidget(box)
            grid.addLayout(labels, 4, 0, 1, 3)  # all three columns: a long label name must not widen the row
        elif isinstance(layer, HeatmapLayer):
            grid.addWidget(QLabel("Threshold"), 3, 0)
            vmax = max(layer.vmax, 1e-6)
            self.threshold = _slider(round(100 * layer.threshold / vmax))
            self.threshold.valueChanged.connect(lambda v: layer.update(threshold=v / 100 * vmax))
            grid.addWidget(self.threshold, 3, 1)
            grid.addWidget(_value_label(self.threshold, lambda v: f"{v / 100 * vmax:.3g}"), 3, 2)
            grid.addWidget(QLabel("Colours"), 4, 0)
            self.colormap = QComboBox()
            self.colormap.addItems([c for c in COLORMAPS if c != "gray"])
            self.colormap.setCurrentText(layer.colormap)
            self.colormap.currentTextChanged.connect(lambda name: layer.update(colormap=name))
            grid.addWidget(self.colormap, 4, 1)
            self.colour_bar = ColourBar(layer)
            layer.changed.connect(self._refresh_colour_bar)
            grid.addWidget(self.colour_bar, 5, 0, 1, 3)
        layer.changed.connect(self._sync)

    def _toggle_label(self, value: int, on: bool) -> None:
        hidden = set(self.layer.hidden_labels)  # type: ignore[attr-defined]
        (hidden.discard if on else hidden.add)(value)
        self.layer.update(hidden_labels=frozenset(hidden))

    def _sync(self, layer: Layer) -> None:
        """Reflect changes made elsewhere (menus, tests, other panels) without echoing them back."""
        for widget, value in ((self.visible, layer.visible), (self.opacity, round(layer.opacity * 100))):
            widget.blockSignals(True)
            widget.setChecked(value) if isinstance(widget, QCheckBox) else widget.setValue(value)
            widget.blockSignals(False)

    def _refresh_colour_bar(self, _layer: Layer) -> None:
        self.colour_bar.refresh()

    def detach(self) -> None:
        """Stop listening: the layer outlives this row (a lambda left connected reached a deleted widget)."""
        self.layer.changed.disconnect(self._sync)
        self.layer.changed.disconnect(self._refresh_colour_bar)


class LayerPanel(QWidget):
    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model = scene
        self.remove_layer: Callable[[Layer], object] = scene.remove_layer  # the window makes it undoable
        self.rows: list[LayerRow] = []
        self._box = QVBoxLayout()
        self._box.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("No overlays. Results of classification or segmentation appear here.")
        self._empty.setWordWrap(True)
        self._empty.setStyleSheet("color: gray;")
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.addWidget(self._empty)
        col.addLayout(self._box)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(scroll)
        scene.layers_changed.connect(self.rebuild)
        scene.series_changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        for row in self.rows:
            row.detach()
            self._box.removeWidget(row)
            row.hide()  # deleteLater waits for the event loop; screenshots taken before it must not show it
            row.deleteLater()
        self.rows = [LayerRow(layer, self.scene_model, remove=self.remove_layer)
                     for layer in self.scene_model.layers]
        for row in self.rows:
            self._box.addWidget(row)
        self._empty.setVisible(not self.rows)

    def row_for(self, name: str) -> LayerRow:
        return next(r for r in self.rows if r.layer.name == name)
