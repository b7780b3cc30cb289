"""The dark bar at the top of a page: its title on the left, its buttons on the right.

One builder so every page's bar has the same margins, roles and order."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from cpdesk.ui.theme import set_role


def header_bar(title: str, *buttons: QWidget) -> QFrame:
    header = QFrame()
    set_role(header, "header")
    label = QLabel(title)
    set_role(label, "h2")
    bar = QHBoxLayout(header)
    bar.setContentsMargins(20, 8, 20, 8)
    bar.addWidget(label, 1)
    for button in buttons:
        bar.addWidget(button)
    return header
