"""The status bar: who is signed in, their role and organisation, the server, time left.

Never shows child data. `update_time()` is called on every session tick.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

__all__ = ["SessionStatusBar", "format_time_left"]


def format_time_left(seconds: float | None) -> str:
    """'9 h 58 min', '4 min', 'less than 1 min' or '' when unknown."""
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than 1 min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


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

    def update_time(self, absolute_left: float | None, idle_left: float | None) -> None:
        parts = []
        if absolute_left is not None:
            parts.append(f"Session ends in {format_time_left(absolute_left)}")
        if idle_left is not None:
            idle = f"{int(idle_left)} s" if idle_left < 60 else format_time_left(idle_left)
            parts.append(f"locks after {idle} without input")
        self.time_left.setText(" · ".join(parts))
