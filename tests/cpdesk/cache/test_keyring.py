"""The device secret: made once, kept in a keyring that passed a probe, never a plaintext one."""

from __future__ import annotations

import base64
import logging
import sys
import types

import keyring as keyring_pkg
import pytest
from keyring.backends import fail

from cpdesk.cache import keyring as ck
from tests.cpdesk.cache.helpers import DictKeyring, LockedKeyring


def test_secret_is_made_once_and_reused() -> None:
    ring = DictKeyring()
    first = ck.device_secret(ring)
    assert first is not None and len(first) == 32
    assert ck.device_secret(ring) == first
    assert list(ring.items) == [("cpdesk", "device-secret")]  # the probe cleaned up


def test_no_keyring_means_no_secret() -> None:
    assert ck.device_secret(None) is None


def test_locked_keyring_fails_the_probe(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cpdesk.cache.keyring"):
        assert ck.device_secret(LockedKeyring()) is None
    assert "RuntimeError" in caplog.text


def test_keyring_that_forgets_fails_the_probe() -> None:
    class Forgetful(DictKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            return None

    assert ck.device_secret(Forgetful()) is None


def test_keyring_that_forgets_the_secret_is_unusable() -> None:
    class ForgetsSecret(DictKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            if username != "device-secret":
                super().set_password(service, username, password)

    assert ck.device_secret(ForgetsSecret()) is None


def test_keyring_failing_after_the_probe_is_unusable() -> None:
    class Flaky(DictKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            if username == "device-secret":
                raise RuntimeError("locked meanwhile")
            super().set_password(service, username, password)

    assert ck.device_secret(Flaky()) is None


@pytest.mark.parametrize("stored", ["!!not base64", base64.b64encode(b"short").decode()])
def test_malformed_secret_is_replaced(stored: str, caplog: pytest.LogCaptureFixture) -> None:
    ring = DictKeyring()
    ring.items[("cpdesk", "device-secret")] = stored
    secret = ck.device_secret(ring)
    assert secret is not None and len(secret) == 32
    assert "malformed" in caplog.text


def test_fail_backend_is_refused() -> None:
    assert ck.device_secret(fail.Keyring()) is None


def test_plaintext_backend_is_refused_even_though_it_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("keyrings.alt.file")

    class PlaintextKeyring(DictKeyring):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    module.PlaintextKeyring = PlaintextKeyring  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyrings.alt.file", module)
    ring = PlaintextKeyring()
    assert ck.device_secret(ring) is None
    assert ring.calls == 0


def test_chainer_of_refused_backends_is_refused() -> None:
    assert ck._refused(types.SimpleNamespace(backends=[fail.Keyring()]))
    assert not ck._refused(types.SimpleNamespace(backends=[fail.Keyring(), DictKeyring()]))


def test_system_keyring_is_none_for_the_fail_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring_pkg, "get_keyring", fail.Keyring)
    assert ck.system_keyring() is None


def test_system_keyring_returns_a_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = DictKeyring()
    monkeypatch.setattr(keyring_pkg, "get_keyring", lambda: ring)
    assert ck.system_keyring() is ring
