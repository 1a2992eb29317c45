"""The RANO product's two diameters drawn on the axial view, on the slice where they were measured."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from brainlens.core.scene import PLANE_AXES

PENS = {"longest_endpoints_ijk": pg.mkPen((0, 230, 255), width=2),
        "perpendicular_endpoints_ijk": pg.mkPen((255, 80, 255), width=2)}


class RanoOverlay:
    def __init__(self, controller, view) -> None:
        self.controller = controller
        self.view = view
        self.lines = {}
        for key, pen in PENS.items():
            item = pg.PlotDataItem(pen=pen)
            item.setZValue(150)
            item.setVisible(False)
            view.vb.addItem(item, ignoreBounds=True)
            self.lines[key] = item
        controller.scene.cursor_changed.connect(self.update)
        controller.scene.series_changed.connect(self.update)
        controller.results_changed.connect(self.update)

    def _canonical(self, ijk: list[int]) -> np.ndarray:
        """Reference-grid voxel -> canonical voxel of the series on show (through world mm)."""
        world = self.controller.segmentation.reference.affine @ np.append(np.asarray(ijk, float), 1.0)
        return (np.linalg.inv(self.controller.scene.base.canonical.affine) @ world)[:3]

    def update(self) -> None:
        doc, scene = self.controller.measurements, self.controller.scene
        rano = (doc or {}).get("rano")
        shown = bool(rano) and scene.base is not None and self.controller.segmentation is not None
        if shown:
            ends = {k: [self._canonical(p) for p in rano[k]] for k in PENS}
            shown = int(round(ends["longest_endpoints_ijk"][0][2])) == scene.slice_index("axial")
        for key, item in self.lines.items():
            item.setVisible(shown)
            if shown:
                h, v = PLANE_AXES["axial"]
                sp = scene.base.canonical.spacing
                pts = ends[key]
                item.setData([p[h] * sp[h] for p in pts], [p[v] * sp[v] for p in pts])

    @property
    def visible(self) -> bool:
        return all(item.isVisible() for item in self.lines.values())
