"""The sign-in screen: username, password, one-time code.

It only collects and shows; the controller runs the call off the GUI thread. The
password field is emptied as soon as the details are handed over, so the password lives
in no widget after sign-in. Each failure shows its own message (from the typed error's
`user_message`): wrong details, locked account, server unreachable, certificate not
trusted, server error.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpdesk.ui.theme import centre_card, init_role

__all__ = ["SignInPage"]


class SignInPage(QWidget):
    """Signals:
    sign_in_requested(str, str, str): username, password, one-time code.
    cancel_requested: the user gave up waiting for the server.
    """

    sign_in_requested = Signal(str, str, str)
    cancel_requested = Signal()

    def __init__(self, server: str, demo: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        card = QFrame()
        init_role(card, "card")
        card.setMaximumWidth(560)
        title = QLabel("Sign in to the children's index")
        init_role(title, "h1")
        title.setWordWrap(True)
        where = QLabel(f"Server: {server}")
        init_role(where, "hint")
        where.setWordWrap(True)
        self.message = QLabel("")
        init_role(self.message, "error")
        self.message.setWordWrap(True)
        self.message.hide()
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.username = QLineEdit()
        self.username.setAccessibleName("Username")
        self.username.setObjectName("username")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setObjectName("password")
        self.otp = QLineEdit()
        self.otp.setAccessibleName("One-time code from your authenticator app")
        self.otp.setObjectName("otp")
        self.otp.setMaxLength(8)
        self.otp.setMaximumWidth(180)
        form = QVBoxLayout()  # labels above fields (NHS pattern; survives 200 % zoom)
        form.setSpacing(4)
        for text, edit, hint in (
            ("&Username", self.username, ""),
            ("&Password", self.password, ""),
            ("One-time &code", self.otp, "The 6 digits from your authenticator app"),
        ):
            form.addSpacing(6)
            form.addWidget(self._label(text, edit))
            if hint:
                hint_label = QLabel(hint)
                init_role(hint_label, "hint")
                form.addWidget(hint_label)
            form.addWidget(edit)
        self.button = QPushButton("Sign in")
        self.button.setObjectName("sign-in")
        init_role(self.button, "primary")
        self.button.clicked.connect(self._submit)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setAccessibleName("Signing in")
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancel-sign-in")
        self.cancel.clicked.connect(self.cancel_requested)
        self.cancel.hide()
        for edit in (self.username, self.password, self.otp):
            edit.returnPressed.connect(self._submit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.button)
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(14)
        inner.addWidget(title)
        inner.addWidget(where)
        inner.addWidget(self.notice)
        inner.addWidget(self.message)
        inner.addLayout(form)
        inner.addLayout(buttons)
        inner.addWidget(self.busy)
        self.demo_box = QFrame()
        init_role(self.demo_box, "warning")
        self.demo_hint = QLabel(
            "<b>Demo:</b> the password and the current one-time codes are printed in the "
            "terminal that started cpdesk (a new code every 30 seconds)."
        )
        self.demo_hint.setWordWrap(True)
        box = QVBoxLayout(self.demo_box)
        box.setContentsMargins(12, 8, 12, 8)
        box.addWidget(self.demo_hint)
        self.demo_box.setVisible(demo)
        inner.addWidget(self.demo_box)
        centre_card(self, card, space_below=2)
        if demo:
            self.username.setText("nurse.demo")

    def finish_start(self) -> None:
        """The one-time code's digits-only hint (for on-screen keyboards), set after the
        first paint: it needs PySide's whole `Qt` namespace, which is slow to build."""
        from PySide6.QtCore import Qt

        self.otp.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        init_role(label, "fact-label")
        return label

    def _submit(self) -> None:
        if self.busy.isVisible():
            return
        username = self.username.text().strip()
        password = self.password.text()
        otp = "".join(self.otp.text().split())
        missing = [
            name
            for name, value in (
                ("username", username),
                ("password", password),
                ("one-time code", otp),
            )
            if not value
        ]
        if missing:
            self.show_error("Enter your " + " and ".join(missing) + ".")
            return
        self.password.clear()  # handed over; no widget keeps it
        self.otp.clear()
        self.show_error("")
        self.sign_in_requested.emit(username, password, otp)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.cancel.setVisible(busy)
        self.button.setEnabled(not busy)
        for edit in (self.username, self.password, self.otp):
            edit.setReadOnly(busy)

    def show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            self.notice.hide()
            self.password.setFocus()

    def show_notice(self, text: str) -> None:
        """A non-error message, e.g. why the user is back here after a session ended."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def reset(self) -> None:
        """Back to an empty form (keeps the username: it is not child data)."""
        self.set_busy(False)
        self.password.clear()
        self.otp.clear()
        self.show_error("")
        self.show_notice("")

    def focus_first(self) -> None:
        (self.password if self.username.text() else self.username).setFocus()
