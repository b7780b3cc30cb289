"""The status bar: who is signed in, their role and organisation, the server, time left.

Never shows child data. `set_time_left()` is called on every session tick.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

__all__ = ["SessionStatusBar"]


class SessionStatusBar(QStatusBar):
    """A status bar with permanent labels; accessible names say what each one is."""

    def __init__(self, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.user = self._add("Signed-in user", "Not signed in", stretch=1)
        self.server = self._add("Server", f"Server: {server}")
        self.time_left = self._add("Session time left", "")

    def _add(self, name: str, text: str, stretch: int = 0) -> QLabel:
        label = QLabel(text)
        label.setAccessibleName(name)
        self.addPermanentWidget(label, stretch)
        return label

    def set_user(self, display_name: str, role: str, organisation: str) -> None:
        self.user.setText(f"{display_name} · {role} · {organisation}")

    def set_signed_out(self) -> None:
        self.user.setText("Not signed in")
        self.time_left.setText("")

    def set_locked(self) -> None:
        self.time_left.setText("Locked")

    def set_time_left(self, text: str) -> None:
        """'Session ends in 9 h 58 min · locks after 2 min without input' (the controller's)."""
        self.time_left.setText(text)
