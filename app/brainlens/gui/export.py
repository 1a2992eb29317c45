"""Export: measurements CSV + JSON, the mask as NIfTI on the source grid, a DICOM SEG for DICOM studies,
the PDF report and a PNG of the layout -- one job on the runner, all files or none, never over a source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainlens.gui.report import png_bytes, reader_measurements, report_pdf
from brainlens.jobs import ai_tasks

EXPORT_NAMES = {"json": "measurements.json", "csv": "measurements.csv", "mask": "mask.nii.gz",
                "seg": "mask_seg.dcm", "pdf": "report.pdf", "png": "layout.png"}


def seg_unavailable_reason(source) -> str | None:
    """Same rule as io.dicom_seg (imported lazily: pydicom stays off the start-up path)."""
    from brainlens.io.dicom_seg import seg_unavailable_reason as reason

    return reason(source)


def export_document(controller) -> dict[str, Any]:
    """The JSON written: measurements of the mask as it is now, plus classification results."""
    doc: dict[str, Any] = dict(controller.measurements or {})
    if controller.slice_result is not None:
        doc["classification_slice"] = dict(controller.slice_result.result, plane=controller.slice_result.plane,
                                           slice_index=controller.slice_result.index)
    if controller.study_result is not None:
        doc["classification_study"] = dict(controller.study_result.summary)
    if controller.seg_layer is not None:
        doc["mask_origin"] = dict(controller.seg_layer.origin)
        doc["edited"] = controller.seg_layer.edited
    store = reader_measurements(controller)
    if store:
        doc["reader_measurements"] = [a.to_dict() for a in store]
    doc["intended_use"] = "research only; not for diagnosis"
    return doc


def export_plan(controller, folder: Path) -> tuple[list[tuple[Any, Path]], list[str]]:
    """(object, path) pairs to write and the notes on what is not written and why."""
    folder = Path(folder)
    items: list[tuple[Any, Path]] = []
    notes: list[str] = []
    doc = export_document(controller)
    items.append((doc, folder / EXPORT_NAMES["json"]))
    mask = controller.mask_volume()
    if controller.measurements is not None and mask is not None:
        items.append((doc, folder / EXPORT_NAMES["csv"]))
        items.append((mask, folder / EXPORT_NAMES["mask"]))
        reason = seg_unavailable_reason(controller.segmentation.reference)
        if reason is None:
            items.append((mask, folder / EXPORT_NAMES["seg"]))
        else:
            notes.append(f"DICOM SEG not written: {reason}")
    else:
        notes.append("no segmentation: measurements CSV, mask and DICOM SEG not written")
    items.append((report_pdf(controller), folder / EXPORT_NAMES["pdf"]))
    items.append((png_bytes(controller.window), folder / EXPORT_NAMES["png"]))
    return items, notes


def source_files(controller) -> list[Path]:
    paths: list[Path] = []
    for sd in controller.scene.series:
        paths += [Path(p) for p in sd.source.metadata.get("source_paths", [])]
    return paths


def start_export(controller, folder: Path):
    """Submit the export job; returns the JobHandle (None when nothing is open)."""
    if controller.scene.base is None:
        controller._fail("Open a study first (File > Open)")
        return None
    items, notes = export_plan(controller, folder)
    reference = controller.segmentation.reference if controller.segmentation is not None else None
    controller.export_notes = notes

    def done(paths: list[Path]) -> None:
        controller.exported = list(paths)
        text = f"Exported {len(paths)} files to {folder}" + (f" ({'; '.join(notes)})" if notes else "")
        controller.window.statusBar().showMessage(text, 10000)

    return controller._submit("export", ai_tasks.export_files, items, source_files(controller), reference,
                              on_result=done)
