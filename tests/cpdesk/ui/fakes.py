"""Widget-test helpers: the fake index API (tests/helpers/fake_api.py), the window built
as the app builds it, and the GUI-thread garbage collection the app uses."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.fake_api import (
    JAYDEN,
    JAYDEN_RECORD,
    OLIVIA,
    OLIVIA_RECORD,
    USER,
    FakeApi,
    FakeSignIn,
)

__all__ = [
    "JAYDEN",
    "JAYDEN_RECORD",
    "OLIVIA",
    "OLIVIA_RECORD",
    "USER",
    "FakeApi",
    "FakeSignIn",
    "build_window",
    "gc_on_gui_thread",
]


@pytest.fixture(autouse=True)
def gc_on_gui_thread() -> Iterator[None]:
    """As the app does: no cycle collection in worker threads (it would free widgets there)."""
    gc.collect()
    gc.disable()
    yield
    gc.collect()
    gc.enable()


def build_window(
    api: FakeApi,
    clock: object,
    *,
    cache: object = None,
    copy: Callable[[str], None] | None = None,
    clear_clipboard: Callable[[], object] = lambda: None,
    settings_factory: Callable[..., object] | None = None,
    allow_pin: bool = False,
    lock_on_focus_loss: bool = False,
) -> Any:
    """A MainWindow on a WorkController, Session and TaskRunners, as the app wires them.

    The runners are also set on the window (`win.runner`, `win.auth_runner`) so tests
    can wait for them; `win.copied` lists what `copy` received unless one is given.
    """
    from cpdesk.cache import NullCache
    from cpdesk.controller import WorkController
    from cpdesk.session import Session
    from cpdesk.ui.main_window import MainWindow
    from cpdesk.ui.workers import TaskRunner

    session = Session(clock, idle_lock_seconds=120, lock_to_logout_seconds=900)  # type: ignore[arg-type]
    runner = TaskRunner(cancel_hook=api.cancel_all)
    auth = TaskRunner(cancel_hook=api.cancel_all)
    controller = WorkController(
        api=api,
        session=session,
        clock=clock,  # type: ignore[arg-type]
        runner=runner,
        auth_runner=auth,
        cache=cache or NullCache(),  # type: ignore[arg-type]
        reader=api.read_bundle,
        clear_clipboard=clear_clipboard,
        allow_pin_unlock=allow_pin,
        lock_on_focus_loss=lock_on_focus_loss,
    )
    copied: list[str] = []
    win = MainWindow(
        controller,
        server_label="https://index.test",
        copy=copy or copied.append,
        settings_factory=settings_factory,  # type: ignore[arg-type]
    )
    runner.busy_changed.connect(win.show_busy)
    win.runner, win.auth_runner, win.copied = runner, auth, copied  # type: ignore[attr-defined]
    return win
