"""DICOM SEG export with highdicom: a tumour mask that references the DICOM series it was made on.

Each frame of the SEG refers to one source image (its SOP Instance UID), found from the image's position:
the file's Image Position (Patient) is mapped through the source volume's affine to a slice index, so the
mask slice written for an image is the one displayed at that image's position, whatever the file order.
Only classic single-frame series are supported (enhanced multi-frame sources are refused with a reason).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlens.core.errors import InputError
from brainlens.core.labels import TUMOUR_LABELS, TumourLabel
from brainlens.core.volume import Volume

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
# Type 2 patient/study attributes a SEG copies from its source; anonymised exports often drop them
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber")


def seg_unavailable_reason(source: Volume) -> str | None:
    """Why a DICOM SEG cannot be written for masks on ``source`` (None when it can)."""
    meta = source.metadata
    if meta.get("format") != "dicom":
        what = f"a {str(meta['format']).upper()} file" if meta.get("format") else "this study"
        return (f"DICOM SEG is only offered for DICOM studies: a SEG must reference the source images' UIDs, "
                f"and {what} has none (the mask is exported as NIfTI instead)")
    if not meta.get("source_paths"):
        return "the source DICOM files are not known, so the SEG could not reference them"
    if meta.get("n_files", 0) != meta.get("n_images", meta.get("n_files", 0)):
        return "DICOM SEG export supports classic one-image-per-file series, not enhanced multi-frame ones"
    return None


def _source_datasets(source: Volume) -> list[tuple[int, object]]:
    """(slice index k on the source grid, dataset) for every source file, slice index from the position."""
    import pydicom

    inv = np.linalg.inv(source.affine)
    out = []
    for path in source.metadata["source_paths"]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in _TYPE2:
            if keyword not in ds:
                setattr(ds, keyword, "")
        ras = _LPS @ np.append(np.asarray(ds.ImagePositionPatient, dtype=np.float64), 1.0)
        ijk = inv @ ras
        k = int(round(ijk[2]))
        if abs(ijk[0]) > 0.5 or abs(ijk[1]) > 0.5 or not 0 <= k < source.shape[2] or abs(ijk[2] - k) > 0.25:
            raise InputError(f"{Path(path).name}: its position does not lie on the series grid; SEG not written")
        out.append((k, ds))
    return sorted(out, key=lambda pair: pair[0])


def _description(label: TumourLabel, number: int, algorithm: dict[str, str], edited: bool):
    from highdicom import AlgorithmIdentificationSequence
    from highdicom.seg import SegmentAlgorithmTypeValues, SegmentDescription
    from pydicom.sr.codedict import codes

    automatic = algorithm.get("kind") == "automatic"
    kind = (SegmentAlgorithmTypeValues.SEMIAUTOMATIC if automatic and edited
            else SegmentAlgorithmTypeValues.AUTOMATIC if automatic else SegmentAlgorithmTypeValues.MANUAL)
    ident = None
    if kind != SegmentAlgorithmTypeValues.MANUAL:
        ident = AlgorithmIdentificationSequence(name=algorithm.get("model", "BrainLens"),
                                                family=codes.DCM.ArtificialIntelligence,
                                                version=str(algorithm.get("version", "")) or "unknown")
    return SegmentDescription(
        segment_number=number, segment_label=label.name,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=kind, algorithm_identification=ident,
    )


def write_seg(mask: Volume, source: Volume, path: Path | str) -> None:
    """Write ``mask`` (tumour labels on ``source``'s grid) as a binary DICOM SEG at ``path``."""
    import highdicom
    from pydicom.uid import generate_uid

    reason = seg_unavailable_reason(source)
    if reason:
        raise InputError(reason)
    if mask.shape != source.shape or not np.allclose(mask.affine, source.affine, atol=1e-4):
        raise InputError("the mask is not on the source series' grid; SEG not written")
    pairs = _source_datasets(source)
    labels = [lab for lab in TUMOUR_LABELS]
    # (frames, rows, cols, segments): the volume is indexed (i = column, j = row, k = slice)
    frames = np.stack([np.stack([mask.data[:, :, k].T == lab.value for lab in labels], axis=-1)
                       for k, _ in pairs])
    origin = dict(mask.metadata.get("origin") or {"kind": "manual"})
    edited = bool(mask.metadata.get("edited"))
    descriptions = [_description(lab, n + 1, origin, edited) for n, lab in enumerate(labels)]
    seg = highdicom.seg.Segmentation(
        source_images=[ds for _, ds in pairs], pixel_array=frames,
        segmentation_type=highdicom.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
        series_instance_uid=generate_uid(), series_number=int(source.metadata.get("series_number") or 0) + 900,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="BrainLens",
        manufacturer_model_name="BrainLens", software_versions=str(origin.get("version") or "0"),
        device_serial_number="0", series_description=("Tumour segmentation (edited)" if edited
                                                      else "Tumour segmentation"),
        content_description="research use only; not for diagnosis", content_label="TUMOUR",
        omit_empty_frames=bool(frames.any()))  # an empty mask still gets its (empty) frames
    seg.save_as(str(path))
