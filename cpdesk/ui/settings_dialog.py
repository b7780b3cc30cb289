"""Read-only view of the effective settings, who set each one, and what the OS can do.

Values set by managed policy show "Set by your organisation": IT locked them and the user
cannot change them. Each row also names the file, registry key or variable its value came
from; an override folder (`--policy-root`) is named as such, below the organisation's.
The dialog also says whether the app can hear the OS screen lock (if not, it locks after
at most 60 s without input), whether screen capture is blocked, and what the offline
cache keeps.
It holds no child data, and the lock path closes it like every other dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cpdesk.platform import CaptureGuard, LockListener, describe_lock_detection
from cpdesk.policy import SETTINGS, Layer, Policy, Setting

__all__ = [
    "SettingsDialog",
    "build_settings_dialog",
    "describe_capture_protection",
    "format_value",
    "layer_text",
    "source_text",
]

MANAGED_TEXT = "Set by your organisation"
OVERRIDE_NOTE = (
    "Values from an override folder are for trying a policy before rollout; your "
    "organisation's policy always wins over them."
)
CACHE_NOTE = (
    "Records you open are kept encrypted for offline re-reading for a few hours, "
    "and erased when you sign out."
)


def format_value(setting: Setting, value: object) -> str:
    """A value as a person reads it: On/Off, seconds with minutes, counts of pins."""
    if setting.json_type == "boolean":
        return "On" if value else "Off"
    if setting.json_type == "integer" and setting.key.endswith("_seconds"):
        seconds = int(value)  # type: ignore[call-overload]
        if seconds >= 3600 and seconds % 3600 == 0:
            return f"{seconds} seconds ({seconds // 3600} h)"
        if seconds >= 60 and seconds % 60 == 0:
            return f"{seconds} seconds ({seconds // 60} min)"
        return f"{seconds} seconds"
    if setting.json_type == "array":
        count = len(value)  # type: ignore[arg-type]
        return "None" if count == 0 else f"{count} pinned key{'s' if count > 1 else ''}"
    if value == "":
        return "System certificate store" if setting.key == "ca_bundle" else "Not set"
    return str(value)


def describe_capture_protection(policy_on: bool, can_prevent: bool, applied: bool | None) -> str:
    """One sentence on screen-capture protection, for this dialog and the log."""
    if not policy_on:
        return "Screen capture protection is off (set by policy)."
    if not can_prevent:
        return "This operating system does not let cpdesk block screenshots or screen sharing."
    if applied is False:
        return "Screen capture protection could not be turned on for this window."
    return "Screenshots and screen sharing show a blank window."


class SettingsDialog(QDialog):
    """Signals: none (read-only; Close is the only action)."""

    def __init__(
        self,
        policy: Policy,
        *,
        lock_detection: str,
        capture_protection: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("cpdesk — settings")
        self.setObjectName("settingsDialog")
        heading = QLabel("Settings")
        heading.setProperty("role", "h1")
        text = f"Settings marked “{MANAGED_TEXT}” are fixed by your IT team and cannot be changed."
        overridden = {Layer.OVERRIDE_MANAGED, Layer.OVERRIDE_RECOMMENDED}
        if any(policy.layer(s.key) in overridden for s in SETTINGS):
            text += " " + OVERRIDE_NOTE
        self.intro = intro = QLabel(text + " " + CACHE_NOTE)
        intro.setWordWrap(True)

        self.table = QTableWidget(len(SETTINGS), 3)
        self.table.setAccessibleName("Settings")
        self.table.setHorizontalHeaderLabels(["Setting", "Value", "Set by"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        for row, setting in enumerate(SETTINGS):
            locked = policy.is_locked(setting.key)
            cells = (
                setting.title,
                format_value(setting, getattr(policy, setting.key)),
                source_text(policy, setting.key),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                item.setToolTip(text if column == 2 else f"{setting.description} ({setting.key})")
                if locked:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        # A long policy path keeps its start and its file name; the tooltip has it whole.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)  # two lines at most: who, then where
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        self.lock_detection = QLabel(lock_detection)
        self.lock_detection.setAccessibleName("Screen lock detection")
        self.lock_detection.setWordWrap(True)
        self.capture_protection = QLabel(capture_protection)
        self.capture_protection.setAccessibleName("Screen capture protection")
        self.capture_protection.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close settings")

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.lock_detection)
        layout.addWidget(self.capture_protection)
        layout.addWidget(buttons)
        self.resize(980, 640)


_LAYER_TEXT = {
    Layer.DEFAULT: "Built-in default",
    Layer.RECOMMENDED: "Recommended by your organisation",
    Layer.OVERRIDE_RECOMMENDED: "Override folder, recommended",
    Layer.USER: "Your settings",
    Layer.OVERRIDE_MANAGED: "Override folder",
    Layer.MANAGED: MANAGED_TEXT,
}


def layer_text(layer: Layer) -> str:
    """Who set a value, as the dialog's "Set by" column says it (the intro explains
    that an override folder ranks below the organisation's policy)."""
    return _LAYER_TEXT[layer]


def source_text(policy: Policy, key: str) -> str:
    """Who set `key`, and on a second line the file, registry key or variable."""
    where = policy.where(key)
    return layer_text(policy.layer(key)) + (f"\n{where}" if where else "")


def build_settings_dialog(
    policy: Policy,
    *,
    listener: LockListener,
    idle_lock_seconds: float,
    guard: CaptureGuard,
    capture_applied: bool | None,
    parent: QWidget | None = None,
) -> SettingsDialog:
    """The dialog as the app shows it, from the services it was built with.

    Args:
        idle_lock_seconds: the effective idle limit (after failing closed).
        capture_applied: what `guard.set_prevent` returned, or None if not attempted.
    """
    return SettingsDialog(
        policy,
        lock_detection=describe_lock_detection(listener, idle_lock_seconds),
        capture_protection=describe_capture_protection(
            policy.screen_capture_protection, guard.can_prevent(), capture_applied
        ),
        parent=parent,
    )
