"""The status bar: who is signed in, their role and organisation, the server, time left.

Never shows child data. `set_time_left()` is called on every session tick.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

__all__ = ["SessionStatusBar"]


class SessionStatusBar(QStatusBar):
    """A status bar with permanent labels, each read by a screen reader with its text."""

    def __init__(self, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.user = self._add("Not signed in", stretch=1)
        self.server = self._add(f"Server: {server}")
        self.time_left = self._add("")

    def _add(self, text: str, stretch: int = 0) -> QLabel:
        """A label read as its text (its own words say what it is)."""
        label = QLabel(text)
        self.addPermanentWidget(label, stretch)
        return label

    def set_user(self, display_name: str, role: str, organisation: str) -> None:
        text = f"{display_name} · {role} · {organisation}"
        self.user.setText(text)
        self.user.setAccessibleName(f"Signed in as {text}")  # holds the text (WCAG 2.5.3)

    def set_signed_out(self) -> None:
        self.user.setText("Not signed in")
        self.user.setAccessibleName("")
        self.time_left.setText("")

    def set_locked(self) -> None:
        self.time_left.setText("Locked")

    def set_time_left(self, text: str) -> None:
        """'Session ends in 9 h 58 min · locks after 2 min without input' (the controller's)."""
        self.time_left.setText(text)
