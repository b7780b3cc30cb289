"""Key wrapping: both factors needed, bound to its file, stored atomically and privately."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cpdesk.cache import keys
from tests.cpdesk.cache.helpers import FAST

SECRET = b"d" * 32
BIND = b"abc.key"


def test_wrap_unwrap_round_trip_and_fresh_salt_each_time() -> None:
    data_key = keys.new_data_key()
    a = keys.wrap(data_key, SECRET, "pw", BIND, FAST)
    b = keys.wrap(data_key, SECRET, "pw", BIND, FAST)
    assert a.salt != b.salt and a.nonce != b.nonce and data_key not in a.ciphertext
    assert keys.unwrap(a, SECRET, "pw", BIND) == data_key


@pytest.mark.parametrize(
    ("secret", "password", "binding"),
    [
        (b"e" * 32, "pw", BIND),  # the password alone (another device, or keyring lost)
        (SECRET, "other", BIND),  # the keyring alone (the next user on the OS login)
        (SECRET, "pw", b"other.key"),  # a key file copied onto another user's name
    ],
)
def test_one_factor_alone_does_not_unwrap(secret: bytes, password: str, binding: bytes) -> None:
    wrapped = keys.wrap(keys.new_data_key(), SECRET, "pw", BIND, FAST)
    with pytest.raises(keys.WrongPassword):
        keys.unwrap(wrapped, secret, password, binding)


def test_two_users_one_device_b_cannot_unwrap_a() -> None:
    a_key = keys.new_data_key()
    a_wrapped = keys.wrap(a_key, SECRET, "alice-pw", BIND, FAST)
    with pytest.raises(keys.WrongPassword):
        keys.unwrap(a_wrapped, SECRET, "bob-pw", BIND)


def test_file_round_trip_mode_0600_and_no_password(tmp_path: Path) -> None:
    wrapped = keys.wrap(keys.new_data_key(), SECRET, "Sup3rSecretPw", BIND, FAST)
    path = tmp_path / "u.key"
    keys.write_atomic(path, wrapped.with_failures(2).to_json())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"Sup3rSecretPw" not in path.read_bytes()
    assert keys.read_wrapped(path) == wrapped.with_failures(2)
    assert os.listdir(tmp_path) == ["u.key"]


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert keys.read_wrapped(tmp_path / "none.key") is None


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"{}",
        b'{"format": 2}',
        b'{"format": 1, "salt": "!!", "scrypt": {"n": 1, "r": 1, "p": 1}, "nonce": "",'
        b' "ciphertext": "", "failures": 0}',
        b'{"format": 1, "salt": "", "scrypt": null, "nonce": "", "ciphertext": "", "failures": 0}',
    ],
)
def test_foreign_key_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "u.key"
    path.write_bytes(content)
    with pytest.raises(keys.KeyFileError):
        keys.read_wrapped(path)


def test_failed_write_leaves_no_temp_file_and_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "u.key"
    path.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        keys.write_atomic(path, b"new")
    assert os.listdir(tmp_path) == ["u.key"] and path.read_bytes() == b"old"
