"""Build the real app (app.build_app) against a real index; tear it down after each test."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cpdesk.app import App, Connection, build_app
from cpdesk.cache import keyring as cache_keyring
from cpdesk.policy import load_policy
from cpdesk.session import SessionState
from tests.cpdesk.cache.helpers import DictKeyring
from tests.helpers.index_server import RunningIndex, totp_now

WRONG_PIN = base64.b64encode(b"\0" * 32).decode()

AppFactory = Callable[..., App]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)
            item.add_marker(
                pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
            )


@pytest.fixture
def make_app(qapp, qtbot, tmp_path: Path) -> Iterator[AppFactory]:
    made: list[App] = []
    policy = load_policy(tmp_path / "no-policy", environ={})

    def factory(connection: Connection) -> App:
        app = build_app(policy, connection)
        qtbot.addWidget(app.window)
        app.window.show()
        made.append(app)
        return app

    yield factory
    for app in made:
        app.shutdown()


def connection_for(index: RunningIndex, **overrides: object) -> Connection:
    values: dict[str, object] = {
        "server_url": index.base_url,
        "ca_bundle": str(index.ca_cert),
        "spki_pins": (index.spki_pin,),
    }
    values.update(overrides)
    return Connection(**values)  # type: ignore[arg-type]


def submit_sign_in(qtbot, app: App, username: str, password: str, otp: str | None = None) -> None:
    page = app.window.signin
    page.username.setText(username)
    page.password.setText(password)
    page.otp.setText(otp if otp is not None else totp_now(username))
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)


def sign_in_ok(qtbot, app: App, username: str = "nurse.demo") -> None:
    from cpindex.seed.demo import DEMO_PASSWORD

    submit_sign_in(qtbot, app, username, DEMO_PASSWORD)
    qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The app's data, cache, config and temp folders, private to the test (disk scans)."""
    made = []
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TMPDIR"):
        folder = tmp_path / "user" / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(name, str(folder))
        made.append(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(made[-1]))
    ring = DictKeyring()  # the real Secret Service has its own test (tests/cpdesk/cache)
    monkeypatch.setattr(cache_keyring, "system_keyring", lambda: ring)
    return made
