"""The PDF report, drawn with Qt's own PDF writer (QTextDocument -> QPdfWriter), and the layout PNG.

Built on the GUI thread (it grabs the views with their overlays) into bytes; the export job writes the bytes
atomically. Contents: study identifiers, key images with overlays, the measurement table, the models
(names, versions, card figures) and the disclaimer.
"""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QUrl
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QPixmap, QTextDocument
from PySide6.QtWidgets import QApplication, QWidget

from brainlens.core.labels import TUMOUR_REGIONS
from brainlens.gui.results_panel import CLASS_TITLES, DISCLAIMER, segmentation_finding

TITLES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1c", "t2": "T2"}


def png_bytes(widget: QWidget) -> bytes:
    """The widget as it is on screen (overlays included), PNG-encoded."""
    QApplication.processEvents()
    return _encode(widget.grab())


def _encode(pixmap: QPixmap) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def reader_measurements(controller) -> list:
    """The reader's rulers and ROIs on the study (gui.reading_room's store), oldest first."""
    reading = getattr(controller.window, "reading", None)
    return list(reading.annotations.items) if reading is not None else []


def measurement_rows(doc: dict) -> list[tuple[str, str, str, str]]:
    """(region, volume, range, lesions) rows, shared by the report table and its test."""
    rows = []
    for region in TUMOUR_REGIONS:
        r = doc["regions"][region.key]
        rng = r.get("volume_ml_range")
        rows.append((region.name.capitalize(), f"{r['volume_ml']:.2f} ml",
                     f"{rng[0]:.2f}-{rng[1]:.2f} ml" if rng else "-", str(len(r["lesions"]))))
    return rows


def report_html(controller) -> str:
    c = controller
    base = c.scene.base
    meta = base.source.metadata if base is not None else {}
    name = "Synthetic phantom (not patient data)" if meta.get("synthetic") else (
        c.window.loaded.study.source.name if c.window.loaded is not None else "")
    ident = [("Study", name), ("Series shown", base.source.name if base else ""),
             ("Patient (hashed)", str(meta.get("patient_hash") or "-")),
             ("Study UID", str(meta.get("study_uid") or "-")),
             ("Created", dt.datetime.now().strftime("%Y-%m-%d %H:%M"))]
    parts = ["<h2>BrainLens report</h2>", f"<p><b>{html.escape(DISCLAIMER)}</b></p>", "<table>"]
    parts += [f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(str(v))}</td></tr>" for k, v in ident]
    parts.append("</table>")
    models = []
    if c.study_result is not None or c.slice_result is not None:
        parts.append("<h3>Tumour type (classifier)</h3><ul>")
        if c.study_result is not None:
            s = c.study_result.summary
            flags = " - out of distribution" if s.get("ood") else " - uncertain" if s.get("uncertain") else ""
            parts.append(f"<li>Study: {html.escape(CLASS_TITLES.get(s['label'], s['label']))} "
                         f"({s.get('confidence', 0):.0%}, {html.escape(str(s.get('method', '')))}){flags}</li>")
            models.append((c.study_result.model, c.study_result.card))
        if c.slice_result is not None:
            r = c.slice_result.result
            flags = " - out of distribution" if r["ood"] else " - uncertain" if r["uncertain"] else ""
            parts.append(f"<li>Slice: {html.escape(CLASS_TITLES.get(r['label'], r['label']))} "
                         f"({r['confidence']:.0%}){flags}</li>")
            models.append((r["model"], c.slice_result.card))
        parts.append("</ul>")
    doc = c.measurements
    if doc is not None:
        edited = " (mask edited by hand)" if doc.get("edited") else ""
        used = ", ".join(TITLES.get(s, s) for s in doc.get("sequences_used", []))
        missing = ", ".join(TITLES.get(s, s) for s in doc.get("missing_sequences", [])) or "none"
        parts.append(f"<h3>Segmentation measurements{edited}</h3>"
                     f"<p>Sequences used: {used}; missing: {missing}</p>")
        finding = segmentation_finding(doc)
        if finding:
            parts.append(f"<p><b>{html.escape(finding)}</b></p>")
        if doc.get("warnings"):
            parts.append("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in doc["warnings"]) + "</ul>")
        parts.append("<table border='1' cellspacing='0' cellpadding='4'><tr><th>Region</th><th>Volume</th>"
                     "<th>Range (p5-p95)</th><th>Lesions</th></tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                  for row in measurement_rows(doc)]
        parts.append("</table>")
        rano = doc.get("rano")
        parts.append(f"<p>RANO (enhancing): {rano['longest_mm']:.1f} x {rano['perpendicular_mm']:.1f} mm = "
                     f"{rano['product_mm2']:.0f} mm2</p>" if rano else "<p>RANO: no enhancing tumour</p>")
        seg = c.segmentation
        if seg is not None:
            models.append((f"{seg.origin.get('model', '')} {seg.origin.get('version', '')}", seg.card))
    readers = reader_measurements(c)
    if readers:
        parts.append("<h3>Reader measurements</h3><ul>")
        parts += [f"<li>{html.escape(a.summary())} on {html.escape(a.series.source.name or 'the series')}</li>"
                  for a in readers]
        parts.append("</ul>")
    parts.append("<h3>Key images</h3><p><img src='brainlens://views' width='640'></p>")
    if models:
        parts.append("<h3>Models</h3><ul>")
        unique = dict.fromkeys(models)  # the same classifier explains the study and the slice: list it once
        parts += [f"<li>{html.escape(m)}{': ' + html.escape(card) if card else ''}</li>" for m, card in unique]
        parts.append("</ul>")
    parts.append(f"<p><small>{html.escape(DISCLAIMER)} Volumes and diameters are computed on the source "
                 "grid; check every result against the images.</small></p>")
    return "".join(parts)


def report_pdf(controller) -> bytes:
    """The report as PDF bytes (A4)."""
    QApplication.processEvents()
    document = QTextDocument()
    document.addResource(QTextDocument.ResourceType.ImageResource, QUrl("brainlens://views"),
                         controller.window.ortho.grab().toImage())
    document.setHtml(report_html(controller))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buf)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter))
    writer.setTitle("BrainLens report")
    writer.setCreator("BrainLens")
    document.setPageSize(writer.pageLayout().paintRectPixels(writer.resolution()).size().toSizeF())
    document.print_(writer)
    del writer
    buf.close()
    return bytes(data.data())
