"""Display convention of the axial and coronal views: radiological (patient's right on the screen's left,
as if facing the patient) or neurological (right on the right). Sagittal views keep anterior on the left."""

from __future__ import annotations

from brainlens.gui.slice_view import ORIENTATION_LETTERS, SliceView

RADIOLOGICAL = "radiological (R on left)"
NEUROLOGICAL = "neurological (R on right)"


def letters_for(plane: str, radiological: bool) -> tuple[str, str, str, str]:
    left, right, top, bottom = ORIENTATION_LETTERS[plane]
    if plane == "sagittal" or radiological:
        return left, right, top, bottom
    return right, left, top, bottom


def apply_convention(view: SliceView, radiological: bool) -> None:
    """Flip the view's x axis and its edge letters; the data and the cursor do not move."""
    view.vb.invertX(radiological or view.plane == "sagittal")
    view.letter_texts = letters_for(view.plane, radiological)
    view._refresh_annotations()
