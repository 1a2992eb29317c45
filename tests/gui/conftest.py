"""The window most GUI tests start from: a MainWindow shown at 1024 x 700, the smallest screen it is checked at.

A test module that needs more (a study open, a layout) overrides ``window`` and asks for this one by name."""

import pytest


@pytest.fixture
def window(qtbot):
    from brainlens.gui import main_window as mw

    win = mw.MainWindow()
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    yield win
    win.close()
