"""The installed PySide6 must not eat references to ``True`` when Python emits signals.

PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True``/``False`` without
counting the reference; on Python 3.11 (where ``True`` is not immortal) a
few thousand emits abort the interpreter with ``bool_dealloc``, mid-session
or at exit. ``pyproject.toml`` keeps that release out; this test fails if a
PySide6 with the defect is ever installed again.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    """Signals of the kinds the app emits: bare, bool, int, object."""

    bare = Signal()
    flag = Signal(bool)
    number = Signal(int)
    thing = Signal(object)


def test_emitting_from_python_keeps_the_count_of_true():
    emitter = Emitter()
    received: list = []
    emitter.flag.connect(received.append)
    emitter.thing.connect(received.append)
    before = sys.getrefcount(True)
    for _ in range(50):  # few enough that a leaking PySide6 fails here instead of aborting
        emitter.bare.emit()
        emitter.flag.emit(True)
        emitter.number.emit(1)
        emitter.thing.emit(None)
    received.clear()
    assert abs(sys.getrefcount(True) - before) < 10  # PySide6 6.12.0 loses 200 here
