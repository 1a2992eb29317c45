"""Patient / study identification: the banner in every view and in the study browser, and the DICOM tag
viewer, checked against tags written into a synthetic series."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import open_and_wait  # noqa: E402
from reading_room_factory import write_mprage  # noqa: E402

from brainlens.core.patient import NOT_IDENTIFIED, PatientInfo, person_name  # noqa: E402
from brainlens.io import load  # noqa: E402

pytestmark = pytest.mark.gui


def test_person_name_and_metadata_from_dicom(tmp_path):
    assert person_name("Doe^Jane^Q") == "DOE, Jane Q"
    assert person_name("Smith") == "SMITH"
    write_mprage(tmp_path / "s", shape=(32, 40, 30))
    vol = load(tmp_path / "s").series[0]
    info = PatientInfo.from_metadata(vol.metadata)
    assert (info.name, info.patient_id, info.birth_date, info.sex) == ("DOE, Jane", "MRN-4711", "1970-01-31", "F")
    assert (info.study_date, info.institution) == ("2024-05-02", "St Elsewhere Hospital")
    assert vol.metadata["frame_of_reference"]


def test_banner_in_every_view_and_browser(qtbot, window, tmp_path):
    write_mprage(tmp_path / "s", shape=(32, 40, 30))
    open_and_wait(qtbot, window, tmp_path / "s")
    for view in window.ortho.views.values():
        left = view.corners.text("top_left")
        assert left.splitlines() == ["DOE, Jane", "ID MRN-4711   DOB 1970-01-31 F"]
        assert "Study 2024-05-02" in view.corners.text("top_right")
        assert "St Elsewhere Hospital" in view.corners.text("top_right")
    header = window.browser.header.text()
    assert "DOE, Jane" in header and "MRN-4711" in header and "1970-01-31" in header
    assert "St Elsewhere Hospital" in header


def test_banner_text_never_runs_into_the_top_letter(qtbot, window, tmp_path):
    long_name = "University Hospital of a Very Long Name and Department X"
    write_mprage(tmp_path / "s", shape=(32, 40, 30), InstitutionName=long_name)
    open_and_wait(qtbot, window, tmp_path / "s")
    window.resize(1024, 700)
    qtbot.wait(50)
    view = window.ortho.views["sagittal"]  # the narrowest view in the ortho layout
    top_letter = view._letters[2]
    for corner in ("top_left", "top_right"):
        label = view.corners.labels[corner]
        assert not label.geometry().intersects(top_letter.geometry()), corner
    assert view.corners.shown_text("top_right") != view.corners.text("top_right")  # elided, not cut
    assert "\u2026" in view.corners.shown_text("top_right") or "..." in view.corners.shown_text("top_right")


def test_nifti_says_it_carries_no_identification(qtbot, window):
    job = window.open_demo(shape=(32, 40, 32), spacing_mm=4.0)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert window.ortho.views["axial"].corners.text("top_left").startswith("Synthetic phantom")
    assert NOT_IDENTIFIED.startswith("No patient identification")


def test_tag_viewer_lists_and_searches_the_header(qtbot, window, tmp_path):
    write_mprage(tmp_path / "s", shape=(32, 40, 30))
    open_and_wait(qtbot, window, tmp_path / "s")
    dialog = window.reading.show_tags()
    qtbot.addWidget(dialog)
    assert len(dialog.rows) > 30
    dialog.search.setText("patientname")
    assert dialog.visible_keywords() == ["PatientName"]
    dialog.search.setText("0010,0020")
    assert dialog.visible_keywords() == ["PatientID"]
    dialog.search.setText("900")  # search by value finds the inversion time
    assert "InversionTime" in dialog.visible_keywords()
    dialog.search.setText("")
    assert len(dialog.visible_keywords()) == len(dialog.rows)
