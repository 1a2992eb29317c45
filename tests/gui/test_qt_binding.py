"""Guards against a Qt binding that corrupts reference counts when Python code emits signals.

PySide6 6.12.0 returned a borrowed ``True`` from ``SignalInstance.emit()``; after a few hundred emits
(pyqtgraph emits on every mouse move) Python 3.11 aborted with "bool_dealloc: deallocating True".
"""

import sys

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QObject, Signal  # noqa: E402

pytestmark = pytest.mark.gui


class _Emitter(QObject):
    ping = Signal(int)


def test_signal_emit_keeps_true_refcount(qapp):
    emitter = _Emitter()
    emitter.ping.connect(lambda value: None)
    before = sys.getrefcount(True)
    for i in range(200):
        emitter.ping.emit(i)
    # other code may hold a few more references meanwhile, but never hundreds fewer
    assert sys.getrefcount(True) >= before - 5
