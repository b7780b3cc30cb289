"""The button row every dialog of ours ends with: a primary default action, then Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QVBoxLayout

from cpdesk.ui.theme import set_role

__all__ = ["add_action_row"]


def add_action_row(
    dialog: QDialog, layout: QVBoxLayout, text: str, names: tuple[str, str],
    on_ok: Callable[[], None],
) -> QPushButton:  # fmt: skip
    """Add "[text] [Cancel]" under `layout` (object names `names`); the primary button."""
    ok = QPushButton(text)
    ok.setObjectName(names[0])
    set_role(ok, "primary")
    ok.setDefault(True)
    ok.clicked.connect(on_ok)
    cancel = QPushButton("Cancel")
    cancel.setObjectName(names[1])
    cancel.clicked.connect(dialog.reject)
    row = QHBoxLayout()
    row.addWidget(ok)
    row.addWidget(cancel)
    row.addStretch(1)
    layout.addSpacing(10)
    layout.addLayout(row)
    return ok
