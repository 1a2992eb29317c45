"""The README's first paragraph describes what the window really does (the AI menu exists and is wired)."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_first_paragraph_names_the_window_actions_that_exist():
    text = README.read_text(encoding="utf-8")
    first = text.split("\n\n")[1]
    for phrase in ("AI", "Classify slice", "Classify study", "Segment tumour", "brush", "DICOM SEG", "PDF report"):
        assert phrase in first, phrase
    ui = (Path(__file__).resolve().parents[1] / "app" / "brainlens" / "gui" / "ai_ui.py").read_text()
    for label in ("Classify &slice", "Classify s&tudy", "Segment &tumour", "&Brush", "&Export results"):
        assert label in ui, label
