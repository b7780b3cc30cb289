"""The Qt binding must not leak references to None (PySide6 6.12.0 does under Python 3.11).

Each void call there dropped one reference to None; a running app aborted with
"none_dealloc" after some thousands of calls (minutes of use). This guards the pin.
"""

import sys

from PySide6.QtWidgets import QApplication, QLabel


def test_void_calls_keep_none_alive(qapp) -> None:
    label = QLabel("x")
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("y")
        QApplication.processEvents()
    assert sys.getrefcount(None) >= before - 50
