"""Copy a phone number or email so clipboard managers leave it alone, and clear it soon.

Every copy carries the hint each OS's clipboard managers and history honour (all hints
on every OS: each is inert where it means nothing):
- `x-kde-passwordManagerHint` = `secret` (Klipper, GNOME and other Linux managers);
- `org.nspasteboard.ConcealedType` (macOS managers; Qt maps
  `application/x-nspasteboard-concealed-type` to that pasteboard type);
- Windows: `ExcludeClipboardContentFromMonitorProcessing`, and `CanIncludeInClipboardHistory`
  and `CanUploadToCloudClipboard` as DWORD 0, which keep it out of Win+V history and the
  cloud clipboard (plus the older `Clipboard Viewer Ignore` that CopyQ and others honour).

The text is cleared after `clear_seconds`, and on lock, sign-out and exit (`clear_now`),
but only if the clipboard still holds what we put there: something the user copied since
is theirs. We keep only a hash of the copied text to recognise it.
"""

from __future__ import annotations

import struct

from PySide6.QtCore import QMimeData, QObject, QTimer
from PySide6.QtGui import QClipboard, QGuiApplication

__all__ = ["SENSITIVE_HINTS", "SensitiveClipboard"]

_DWORD_ZERO = struct.pack("<I", 0)
_DWORD_ONE = struct.pack("<I", 1)

SENSITIVE_HINTS: dict[str, bytes] = {
    "x-kde-passwordManagerHint": b"secret",
    "org.nspasteboard.ConcealedType": b"",
    "application/x-nspasteboard-concealed-type": b"",
    "ExcludeClipboardContentFromMonitorProcessing": _DWORD_ONE,
    'application/x-qt-windows-mime;value="Clipboard Viewer Ignore"': b"",
    "CanIncludeInClipboardHistory": _DWORD_ZERO,
    "CanUploadToCloudClipboard": _DWORD_ZERO,
}


def _digest(text: str) -> bytes:
    import hashlib  # on first copy: OpenSSL is slow to load before the first paint

    return hashlib.sha256(text.encode("utf-8")).digest()


class SensitiveClipboard(QObject):
    """Copies text with "do not record" hints and clears it when it should go.

    Signals: none. Call `clear_now()` from the lock, sign-out and quit paths.
    """

    def __init__(
        self,
        clear_seconds: float,
        clipboard: QClipboard | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._clipboard = clipboard or QGuiApplication.clipboard()
        self._ours: bytes | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, round(clear_seconds * 1000)))
        self._timer.timeout.connect(self.clear_now)

    @property
    def holds_ours(self) -> bool:
        """True while the clipboard still holds the text we last copied."""
        return self._ours is not None and _digest(self._clipboard.text()) == self._ours

    def copy(self, text: str) -> None:
        """Put `text` on the clipboard with every sensitivity hint; clear it later."""
        mime = QMimeData()
        mime.setText(text)
        for fmt, value in SENSITIVE_HINTS.items():
            mime.setData(fmt, value)
        self._clipboard.setMimeData(mime, QClipboard.Mode.Clipboard)
        self._ours = _digest(text)
        self._timer.start()

    def clear_now(self) -> bool:
        """Clear the clipboard if it still holds our text; return whether it did."""
        self._timer.stop()
        cleared = self.holds_ours
        if cleared:
            self._clipboard.clear(QClipboard.Mode.Clipboard)
        self._ours = None
        return cleared
