"""Results panel: what the classifier and the segmenter found, in words and numbers, for the study on show.

Classification: four calibrated probabilities as bars, the label and confidence, the uncertain / out-of-
distribution flags in plain words. Segmentation: sequences used / missing, per-region volume with its range,
the lesion list (click -> the cursor jumps there), RANO, an explicit "no tumour detected" state, the
uncertainty colour bar and "Review uncertain" stepping. Always: research use only.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from brainlens.core.colors import colormap_lut
from brainlens.core.geometry import PLANE_NORMAL_AXIS
from brainlens.core.labels import TUMOUR_REGIONS

CLASS_TITLES = {"glioma": "Glioma", "meningioma": "Meningioma", "pituitary": "Pituitary", "notumor": "No tumour"}
DISCLAIMER = "Research use only - not for diagnosis."


def no_tumour_found(doc: dict) -> bool:
    """The segmenter found nothing that passed its rule, or the reader erased it all."""
    return not doc.get("tumour_detected", True) or doc["regions"]["whole_tumor"]["volume_ml"] <= 0


def segmentation_finding(doc: dict) -> str | None:
    """The segmentation's verdict beside the volumes ('No tumour detected', or the uncertain flag), None when
    there is nothing to add; the panel and the report say the same."""
    if no_tumour_found(doc):
        return "No tumour detected (the mask is empty)."
    if doc.get("uncertain"):
        return ("The model's samples disagree more than on validation studies that went well: check the mask "
                "slice by slice (Review uncertain).")
    return None


def _label(text: str = "") -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(True)
    lab.setTextFormat(Qt.TextFormat.RichText)
    return lab


def colour_bar(colormap: str, width: int = 160, height: int = 12) -> QPixmap:
    lut = colormap_lut(colormap)
    row = lut[np.linspace(0, 255, width).astype(int), :3]
    img = np.ascontiguousarray(np.repeat(row[None], height, axis=0))
    qimg = QImage(img.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())


def uncertain_slices(uncertainty: np.ndarray, plane: str, top: int = 10) -> list[int]:
    """Canonical slice indices of ``plane`` ranked by summed uncertainty (most uncertain first)."""
    axis = PLANE_NORMAL_AXIS[plane]
    other = tuple(a for a in range(3) if a != axis)
    score = np.nan_to_num(uncertainty).sum(axis=other)
    order = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > 0]
    return order[:top]


class ResultsPanel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.scene_model = controller.scene
        inner = QWidget()
        col = QVBoxLayout(inner)
        self.empty = _label("<i>No AI results yet. AI &gt; Classify slice, Classify study or Segment tumour.</i>")
        col.addWidget(self.empty)
        self.class_title = _label()
        col.addWidget(self.class_title)
        self.bars: dict[str, QProgressBar] = {}
        self.bar_grid = QGridLayout()
        col.addLayout(self.bar_grid)
        self.class_text = _label()
        col.addWidget(self.class_text)
        self.seg_text = _label()
        col.addWidget(self.seg_text)
        self.lesions = QListWidget()
        self.lesions.setMaximumHeight(120)
        self.lesions.itemClicked.connect(self._jump_to_lesion)
        col.addWidget(self.lesions)
        # The title sits above the bar: beside it, the row was wider than the dock and, since the panel
        # never scrolls sideways, every text above it was cut off at the right.
        bar_box = QVBoxLayout()
        bar_box.setContentsMargins(0, 0, 0, 0)
        bar_box.addWidget(QLabel("Uncertainty (bits)"))
        bar_row = QHBoxLayout()
        self.bar_low, self.bar_image, self.bar_high = QLabel("0"), QLabel(), QLabel("")
        self.bar_image.setPixmap(colour_bar("hot"))
        for w in (self.bar_low, self.bar_image, self.bar_high):
            bar_row.addWidget(w)
        bar_row.addStretch(1)
        bar_box.addLayout(bar_row)
        self.bar_widget = QWidget()
        self.bar_widget.setLayout(bar_box)
        col.addWidget(self.bar_widget)
        self.review = QPushButton("Review uncertain (next slice)")
        self.review.setToolTip("Step through the slices of the active plane where the model was least sure")
        self.review.clicked.connect(self.review_next)
        col.addWidget(self.review)
        self.disclaimer = _label(f"<b>{DISCLAIMER}</b>")
        col.addWidget(self.disclaimer)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wrap text to the dock
        scroll.setWidget(inner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(scroll)
        self._review: tuple[str, list[int], int] | None = None
        controller.results_changed.connect(self.refresh)
        self.refresh()

    # ---- classification ------------------------------------------------------------------------------
    def _set_bars(self, probabilities: dict[str, float]) -> None:
        for name, p in probabilities.items():
            if name not in self.bars:
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setFormat(f"{CLASS_TITLES.get(name, name)} %p%")
                self.bar_grid.addWidget(bar, len(self.bars), 0)
                self.bars[name] = bar
            self.bars[name].setValue(0 if not np.isfinite(p) else int(round(p * 1000)))
            self.bars[name].setVisible(True)

    def classification_html(self) -> str:
        c = self.controller
        parts = []
        if c.slice_result is not None:
            r = c.slice_result.result
            label = CLASS_TITLES.get(r["label"], r["label"])
            parts.append(f"<b>Slice ({c.slice_result.plane} {c.slice_result.index + 1}):</b> {html.escape(label)}, "
                         f"confidence {r['confidence']:.0%}")
            if r["ood"]:
                parts.append("<span style='color:#c60'>This image does not look like the brain MR slices the "
                             f"model was trained on ({html.escape(str(r['ood_reason']))}): do not trust the "
                             "label.</span>")
            elif r["uncertain"]:
                parts.append("<span style='color:#c60'>The model is uncertain about this slice (its answers "
                             "disagree): treat the label with caution.</span>")
            else:
                parts.append("The model is confident and the image looks like its training data.")
            parts.append(f"<small>Model {html.escape(r['model'])}; Grad-CAM shows where it looked.</small>")
        if c.study_result is not None:
            s = c.study_result.summary
            label = CLASS_TITLES.get(s["label"], s["label"])
            how = ("the slices through the segmented tumour" if s.get("method") == "segmentation"
                   else f"{len(s.get('slices_used', []))} of {s['n_slices']} {s['plane']} slices")
            parts.append(f"<b>Study:</b> {html.escape(label)}, confidence {s.get('confidence', 0):.0%} "
                         f"(from {how})")
            if s.get("ood"):
                parts.append("<span style='color:#c60'>Most slices do not look like the brain MR images the "
                             "model knows: do not trust the study label.</span>")
            elif s.get("uncertain"):
                parts.append("<span style='color:#c60'>The study verdict is uncertain: treat it with "
                             "caution.</span>")
            for note in s.get("notes", []):
                parts.append(f"<small>{html.escape(note)}</small>")
        return "<br>".join(parts)

    # ---- segmentation --------------------------------------------------------------------------------
    def segmentation_html(self) -> str:
        c = self.controller
        doc = c.measurements
        if doc is None:
            return ""
        titles = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1c", "t2": "T2"}
        used = ", ".join(titles.get(s, s) for s in doc.get("sequences_used", []))
        missing = ", ".join(titles.get(s, s) for s in doc.get("missing_sequences", [])) or "none"
        edited = " <b>(edited by hand)</b>" if doc.get("edited") else ""
        lines = [f"<b>Segmentation</b>{edited}", f"Sequences used: {used}; missing: {missing}"]
        # The segmenter's own warnings (missing sequences, the classifier's doubts) stay in view, not only
        # in the status bar for ten seconds: they change how far the numbers can be trusted.
        notes = "".join(f"<br><span style='color:#c60'>&#9888; {html.escape(w)}</span>"
                        for w in doc.get("warnings", []))
        finding = segmentation_finding(doc)
        if no_tumour_found(doc):
            lines.append(f"<b>{html.escape(finding)}</b>{notes}")
            return "<br>".join(lines)
        if finding:
            lines.append(f"<span style='color:#c60'>{html.escape(finding)}</span>")
        lines[-1] += notes  # before the volumes they qualify
        rows = []
        for region in TUMOUR_REGIONS:
            r = doc["regions"][region.key]
            rng = r.get("volume_ml_range")
            # the range on its own line keeps the table inside the dock's width (the panel wraps, never scrolls)
            rng_text = f"<br><small>({rng[0]:.1f}-{rng[1]:.1f})</small>" if rng and not doc.get("edited") else ""
            rows.append(f"<tr><td>{region.name.capitalize()}</td><td align='right'>{r['volume_ml']:.1f} ml"
                        f"{rng_text}</td><td align='right'>{len(r['lesions'])}</td></tr>")
        lines.append("<table cellspacing='2'><tr><th align='left'>Region</th><th>Volume<br><small>(range)</small></th>"
                     "<th>Lesions</th></tr>" + "".join(rows) + "</table>")
        rano = doc.get("rano")
        if rano:
            lines.append(f"RANO (enhancing): {rano['longest_mm']:.1f} x {rano['perpendicular_mm']:.1f} mm = "
                         f"{rano['product_mm2']:.0f} mm² (drawn on axial slice {rano['slice_index'] + 1} "
                         "of the reference series)")
        else:
            lines.append("RANO: no enhancing tumour to measure")
        return "<br>".join(lines)

    def refresh(self) -> None:
        c = self.controller
        has_class = c.slice_result is not None or c.study_result is not None
        probs = None
        if c.slice_result is not None:
            probs = c.slice_result.result["probabilities"]
        elif c.study_result is not None:
            probs = c.study_result.summary.get("probabilities")
        if probs:
            self._set_bars(probs)
        for bar in self.bars.values():
            bar.setVisible(bool(probs))
        self.class_title.setVisible(has_class)
        self.class_title.setText("<b>Tumour type (classifier)</b>")
        self.class_text.setText(self.classification_html())
        self.class_text.setVisible(has_class)
        seg = self.segmentation_html()
        self.seg_text.setText(seg)
        self.seg_text.setVisible(bool(seg))
        self.lesions.clear()
        doc = c.measurements
        for n, lesion in enumerate((doc or {}).get("regions", {}).get("whole_tumor", {}).get("lesions", [])):
            item = QListWidgetItem(f"Lesion {n + 1}: {lesion['volume_ml']:.1f} ml, "
                                   f"{lesion['max_diameter_mm']:.0f} mm")
            item.setData(Qt.ItemDataRole.UserRole, lesion["centroid_ras_mm"])
            self.lesions.addItem(item)
        self.lesions.setVisible(self.lesions.count() > 0)
        unc = c.unc_layer
        self.bar_widget.setVisible(unc is not None)
        self.review.setVisible(unc is not None)
        if unc is not None:
            self.bar_high.setText(f"{unc.vmax:.2f}")
        self.empty.setVisible(not has_class and doc is None)
        self._review = None

    def _jump_to_lesion(self, item: QListWidgetItem) -> None:
        self.scene_model.set_cursor_world(item.data(Qt.ItemDataRole.UserRole))

    def review_next(self) -> int | None:
        """Move the cursor to the next most uncertain slice of the active plane; returns its index."""
        unc = self.controller.unc_layer
        if unc is None:
            return None
        plane = self.controller.window.ortho.active_plane
        if self._review is None or self._review[0] != plane:
            self._review = (plane, uncertain_slices(unc.data, plane), -1)
        plane, order, pos = self._review
        if not order:
            return None
        pos = (pos + 1) % len(order)
        self._review = (plane, order, pos)
        v = self.scene_model.cursor_voxel().astype(float)
        v[PLANE_NORMAL_AXIS[plane]] = order[pos]
        self.scene_model.set_cursor_voxel(v)
        return order[pos]
