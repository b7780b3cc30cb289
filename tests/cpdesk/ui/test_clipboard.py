"""Sensitive copies carry every OS's hint, and are cleared only while still ours."""

from __future__ import annotations

import struct

import pytest
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cpdesk.ui.clipboard import SENSITIVE_HINTS, SensitiveClipboard

PHONE = "07700 900123"


@pytest.fixture
def clipboard(qapp: QApplication) -> QClipboard:
    cb = QGuiApplication.clipboard()
    cb.clear()
    return cb


def test_copy_carries_every_hint(clipboard: QClipboard) -> None:
    SensitiveClipboard(30).copy(PHONE)
    mime = clipboard.mimeData()
    assert mime is not None
    assert mime.text() == PHONE
    assert bytes(mime.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert mime.hasFormat("org.nspasteboard.ConcealedType")
    assert mime.hasFormat("application/x-nspasteboard-concealed-type")
    assert mime.hasFormat("ExcludeClipboardContentFromMonitorProcessing")
    for fmt in ("CanIncludeInClipboardHistory", "CanUploadToCloudClipboard"):
        raw = bytes(mime.data(fmt).data())
        assert len(raw) == 4
        assert struct.unpack("<I", raw)[0] == 0
    assert set(SENSITIVE_HINTS) <= set(mime.formats())


def test_cleared_after_timeout(clipboard: QClipboard, qtbot: QtBot) -> None:
    sensitive = SensitiveClipboard(0.05)
    sensitive.copy(PHONE)
    assert sensitive.holds_ours
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)
    assert not sensitive.holds_ours


def test_not_cleared_if_user_copied_something_else(clipboard: QClipboard, qtbot: QtBot) -> None:
    sensitive = SensitiveClipboard(0.05)
    sensitive.copy(PHONE)
    clipboard.setText("the user's own text")
    assert not sensitive.holds_ours
    assert sensitive.clear_now() is False
    assert clipboard.text() == "the user's own text"


def test_timer_leaves_the_users_text_alone(clipboard: QClipboard, qtbot: QtBot) -> None:
    sensitive = SensitiveClipboard(0.05)
    sensitive.copy(PHONE)
    clipboard.setText("mine")
    with qtbot.waitSignal(sensitive._timer.timeout, timeout=5000):
        pass
    assert clipboard.text() == "mine"


def test_clear_now_for_lock_sign_out_and_exit(clipboard: QClipboard) -> None:
    sensitive = SensitiveClipboard(30)
    sensitive.copy(PHONE)
    assert sensitive.clear_now() is True
    assert clipboard.text() == ""
    assert sensitive.clear_now() is False  # nothing of ours left


def test_new_copy_restarts_the_timer_and_tracks_the_latest(clipboard: QClipboard) -> None:
    sensitive = SensitiveClipboard(30)
    sensitive.copy(PHONE)
    sensitive.copy("someone@example.org")
    assert sensitive.holds_ours
    mime = QMimeData()
    mime.setText(PHONE)
    clipboard.setMimeData(mime)
    assert not sensitive.holds_ours  # only the latest copy is ours


def test_copied_text_is_not_kept_in_the_object(clipboard: QClipboard) -> None:
    sensitive = SensitiveClipboard(30)
    sensitive.copy(PHONE)
    assert PHONE not in repr(vars(sensitive))
    sensitive.clear_now()
