"""The lock panel: what the window shows, and all it shows, while the session is locked.

It holds no child data by construction: app name, who is signed in, when it locked,
password (and PIN where policy allows) fields, a message line and a sign-out button.
The main window swaps it in after emptying every widget that showed a child, so the
task switcher, screenshots and screen readers see only this.

Secrets typed here leave the widget at once: a submit clears the fields before the
signal is emitted, so no password lingers in a QLineEdit while the server checks it.

Signals:
    unlock_requested(str): the password to check with the server (`POST /auth/unlock`).
    pin_unlock_requested(str): the PIN to check locally (only when PIN unlock is allowed).
    sign_out_requested(): the user chose to sign out rather than unlock.

`PinDialog` offers, after sign-in and only where policy allows PIN unlock, to set the PIN
(the window keeps just its hash, in memory, until sign-out).
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpdesk.records import UserInfo
from cpdesk.ui.theme import centre_card

__all__ = ["LockScreen", "PinDialog", "format_hint", "format_locked_at"]

PANEL_PT = 14  # larger than body text: read from a step away in a busy A&E


def format_locked_at(locked_at: dt.datetime) -> str:
    """'Locked at 14:02' in the machine's local time."""
    return f"Locked at {locked_at.astimezone().strftime('%H:%M')}"


def format_hint(signs_out_at: dt.datetime | None, *, pin: bool = False) -> str:
    """What to do, and by when, for someone coming back to the screen."""
    what = "your PIN or password" if pin else "your password"
    text = f"Enter {what} to carry on where you left off."
    if signs_out_at is not None:
        text += f" If nobody unlocks it, cpdesk signs out at {signs_out_at.astimezone():%H:%M}."
    return text


def _role(widget: QWidget, role: str) -> None:
    widget.setProperty("role", role)


class LockScreen(QWidget):
    """The privacy screen's panel. Render with `show_locked`; never decides anything."""

    unlock_requested = Signal(str)
    pin_unlock_requested = Signal(str)
    sign_out_requested = Signal()

    def __init__(self, app_name: str = "cpdesk", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self._allow_pin = False
        self._signs_out_at: dt.datetime | None = None
        self.setAccessibleName(f"{app_name} is locked")
        font = QFont(self.font())
        font.setPointSize(PANEL_PT)
        self.setFont(font)
        # The app style sheet sets body size on every QWidget; this one wins inside the panel.
        self.setStyleSheet(
            f"QWidget {{ font-size: {PANEL_PT}pt; }}"
            f' QLabel[role="h1"] {{ font-size: {PANEL_PT + 10}pt; font-weight: bold; }}'
            f' QLabel[role="h2"] {{ font-size: {PANEL_PT + 4}pt; font-weight: bold; }}'
        )

        self.title = QLabel(app_name)
        _role(self.title, "h1")
        self.heading = QLabel("This screen is locked")
        _role(self.heading, "h2")
        self.user_label = QLabel()
        self.user_label.setWordWrap(True)
        self.locked_label = QLabel()
        self.hint = QLabel()
        self.hint.setWordWrap(True)

        self.password_label = QLabel("&Password")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setAccessibleDescription("Your sign-in password, to unlock")
        self.password_label.setBuddy(self.password)
        self.pin_label = QLabel("P&IN")
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setAccessibleName("PIN")
        self.pin.setAccessibleDescription("Your unlock PIN, instead of the password")
        self.pin_label.setBuddy(self.pin)

        self.unlock_button = QPushButton("&Unlock")
        self.unlock_button.setAccessibleName("Unlock")
        self.unlock_button.setDefault(True)
        _role(self.unlock_button, "primary")
        self.sign_out_button = QPushButton("&Sign out")
        self.sign_out_button.setAccessibleName("Sign out")
        self.message = QLabel()
        self.message.setWordWrap(True)
        _role(self.message, "error")

        card = QFrame()
        card.setObjectName("lockCard")
        _role(card, "card")
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 24)
        inner.setSpacing(10)
        for widget in (
            self.title,
            self.heading,
            self.user_label,
            self.locked_label,
            self.hint,
            self.pin_label,  # first when shown: the quick way in
            self.pin,
            self.password_label,
            self.password,
            self.message,
        ):
            inner.addWidget(widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.unlock_button)
        buttons.addStretch(1)
        buttons.addWidget(self.sign_out_button)
        inner.addLayout(buttons)
        card.setMaximumWidth(560)

        centre_card(self, card)

        QWidget.setTabOrder(self.pin, self.password)
        QWidget.setTabOrder(self.password, self.unlock_button)
        QWidget.setTabOrder(self.unlock_button, self.sign_out_button)
        self.password.returnPressed.connect(self._submit)
        self.pin.returnPressed.connect(self._submit)
        self.unlock_button.clicked.connect(self._submit)
        self.sign_out_button.clicked.connect(self.sign_out_requested)
        self.show_locked(None, None)

    def show_locked(
        self,
        user: UserInfo | None,
        locked_at: dt.datetime | None,
        *,
        allow_pin: bool = False,
        signs_out_at: dt.datetime | None = None,
    ) -> None:
        """Fill the panel for a new lock: empty fields, no message, focus on the password."""
        if user is None:
            self.user_label.setText("")
        else:
            self.user_label.setText(f"Signed in as {user.display_name}, {user.organisation}")
        self.locked_label.setText(format_locked_at(locked_at) if locked_at else "")
        self._signs_out_at = signs_out_at
        self.hint.setText(format_hint(signs_out_at, pin=allow_pin) if user is not None else "")
        self.hint.setVisible(user is not None)
        self.pin_label.setVisible(allow_pin)
        self.pin.setVisible(allow_pin)
        self._allow_pin = allow_pin
        self.password.clear()
        self.pin.clear()
        self.show_message("")
        self.set_checking(False)
        self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_pin_allowed(self, allow: bool) -> None:
        """Show the PIN field (the user set a PIN and policy allows it); focus it first."""
        self.pin_label.setVisible(allow)
        self.pin.setVisible(allow)
        self._allow_pin = allow
        if self.hint.text():
            self.hint.setText(format_hint(self._signs_out_at, pin=allow))
        (self.pin if allow else self.password).setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_first(self) -> None:
        (self.pin if self._allow_pin else self.password).setFocus(Qt.FocusReason.OtherFocusReason)

    def set_checking(self, busy: bool) -> None:
        """Disable the inputs while an unlock is being checked."""
        for widget in (self.password, self.pin, self.unlock_button):
            widget.setEnabled(not busy)
        if busy:
            self.show_message("Checking…", error=False)

    def show_message(self, text: str, *, error: bool = True) -> None:
        """One line under the fields: a wrong password, tries left, a network problem."""
        self.message.setText(text)
        _role(self.message, "error" if error else "hint")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setVisible(bool(text))

    def _submit(self) -> None:
        pin = self.pin.text() if self._allow_pin else ""
        password = self.password.text()
        self.password.clear()
        self.pin.clear()
        if pin:
            self.pin_unlock_requested.emit(pin)
        elif password:
            self.unlock_requested.emit(password)
        else:
            self.show_message("Enter your password to unlock.")
            self.password.setFocus(Qt.FocusReason.OtherFocusReason)


class PinDialog(QDialog):
    """Choose a PIN to unlock this sign-in's locks. Signals: pin_chosen(str)."""

    pin_chosen = Signal(str)

    def __init__(self, min_digits: int, max_digits: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("cpdesk — unlock PIN")
        self.setObjectName("pinDialog")
        self._min, self._max = min_digits, max_digits
        heading = QLabel("Set an unlock PIN?")
        _role(heading, "h2")
        intro = QLabel(
            f"Your organisation lets you unlock cpdesk with a PIN of {min_digits} to "
            f"{max_digits} digits instead of your password. It lasts until you sign out, "
            "and five wrong tries sign you out."
        )
        intro.setWordWrap(True)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setAccessibleName("New PIN")
        self.pin.setMaxLength(max_digits)
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setAccessibleName("New PIN again")
        self.again.setMaxLength(max_digits)
        pin_label = QLabel("&PIN")
        pin_label.setBuddy(self.pin)
        again_label = QLabel("PIN &again")
        again_label.setBuddy(self.again)
        self.message = QLabel()
        self.message.setWordWrap(True)
        _role(self.message, "error")
        self.message.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.set_button = self.buttons.addButton("&Set PIN", QDialogButtonBox.ButtonRole.AcceptRole)
        self.skip_button = self.buttons.addButton(
            "&Not now", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.set_button.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (heading, intro, pin_label, self.pin, again_label, self.again):
            layout.addWidget(widget)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.pin.setFocus(Qt.FocusReason.OtherFocusReason)

    def _submit(self) -> None:
        pin, again = self.pin.text(), self.again.text()
        self.pin.clear()
        self.again.clear()
        if not (pin.isascii() and pin.isdigit() and self._min <= len(pin) <= self._max):
            self._error(f"A PIN is {self._min} to {self._max} digits. Try again.")
        elif pin != again:
            self._error("The two PINs are not the same. Try again.")
        else:
            self.accept()
            self.pin_chosen.emit(pin)

    def _error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)
        self.pin.setFocus(Qt.FocusReason.OtherFocusReason)
