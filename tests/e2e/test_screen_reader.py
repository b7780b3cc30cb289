"""What a screen reader hears: the real app's accessibility tree, read over AT-SPI.

Orca reads a Qt app through AT-SPI, not through `accessibleName()` in-process. So the app
runs in a child process (this module's `__main__`) under Xvfb with Qt's AT-SPI bridge on
(`QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1`), on a private session bus that has its own
accessibility bus (at-spi2-core's `at-spi-bus-launcher`); `atspi_walker.py` reads the
tree with Debian's pyatspi (in `/usr/bin/python3`, not the venv) at each screen: sign-in
with an error, results, a record, a shielded record, and locked.

On every screen: each label a sighted user can read is readable (its text is in its
accessible name: WCAG 2.2, 2.5.3 and 4.1.2), and every focusable control has a name.
With a record open, every phone number and email is read with whose it is. Locked, the
tree holds nothing of the child.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WALKER = Path(__file__).with_name("atspi_walker.py")
SYSTEM_PYTHON = "/usr/bin/python3"
BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
APP_NAME = "cpdesk"

Node = dict[str, Any]


def _have_pyatspi() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not (Path(BUS_LAUNCHER).exists() and shutil.which("Xvfb") and _have_pyatspi()),
    reason="needs at-spi2-core, python3-pyatspi and xvfb (installed by .ci/run)",
)


@pytest.fixture
def desktop() -> Iterator[dict[str, str]]:
    """A private session bus with an accessibility bus, and an X server; their env."""
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    address, bus_pid = out[0], int(out[1])
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    started: list[subprocess.Popen[str]] = []
    try:
        started.append(
            subprocess.Popen([BUS_LAUNCHER, "--launch-immediately"], env=env, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )  # fmt: skip
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1400x900x24",
             "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        started.append(xvfb)
        os.close(write_fd)
        with os.fdopen(read_fd) as display:
            number = display.readline().strip()
        assert number, "Xvfb did not start"
        env["DISPLAY"] = f":{number}"
        yield env
    finally:
        for process in reversed(started):  # only what this fixture started, by pid
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        os.kill(bus_pid, signal.SIGTERM)


def walk(env: dict[str, str]) -> list[Node]:
    """The app's tree, read by a screen reader's library; retried while it registers."""
    for _ in range(20):
        result = subprocess.run(
            [SYSTEM_PYTHON, str(WALKER), APP_NAME],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode == 0:
            nodes: list[Node] = json.loads(result.stdout)
            return nodes
        time.sleep(0.5)
    raise AssertionError(f"no {APP_NAME} on the accessibility bus: {result.stderr[-2000:]}")


def showing(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if "showing" in n["states"]]


def unreadable_labels(nodes: list[Node], visible_texts: list[str]) -> list[str]:
    """Visible label texts that no showing node's name (or text) contains."""
    heard = [" ".join(f"{n['name']} {n['text']}".split()) for n in showing(nodes)]
    return [text for text in visible_texts if not any(text in h for h in heard)]


def unnamed_controls(nodes: list[Node]) -> list[str]:
    """Focusable, showing nodes without a name (table cells are named by their column
    headers and text); each with the path of roles and names above it."""
    found, path = [], []
    for n in nodes:
        del path[n["depth"] :]
        path.append(f"{n['role']} {n['name']!r}")
        named = n["name"].strip() or n["role"] == "table cell"
        if "focusable" in n["states"] and "showing" in n["states"] and not named:
            found.append(" > ".join(path))
    return found


def test_a_screen_reader_reads_every_value_and_nothing_after_a_lock(desktop, index_server):
    env = dict(desktop, QT_QPA_PLATFORM="xcb", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1")
    env.pop("QT_ACCESSIBILITY", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.test_screen_reader", index_server.base_url,
         str(index_server.ca_cert), index_server.spki_pin],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    screens: dict[str, tuple[dict[str, Any], list[Node]]] = {}
    lines: list[str] = []
    try:
        assert child.stdout is not None and child.stdin is not None
        for line in child.stdout:
            lines.append(line.rstrip())
            if line.startswith("SCREEN "):
                seen = json.loads(line.removeprefix("SCREEN "))
                screens[seen["screen"]] = (seen, walk(env))
                child.stdin.write("next\n")
                child.stdin.flush()
        assert child.wait(60) == 0, "\n".join(lines[-40:])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
    assert list(screens) == ["sign-in", "results", "record", "shielded", "locked"], lines[-40:]
    for name, (seen, nodes) in screens.items():
        assert not unreadable_labels(nodes, seen["labels"]), name
        assert not unnamed_controls(nodes), name
    seen, nodes = screens["record"]
    names = [n["name"] for n in showing(nodes)]
    for whose, value in seen["contacts"]:
        assert any(n.startswith(whose) and n.endswith(f", {value}") for n in names), (whose, value)
    seen, nodes = screens["shielded"]
    assert any("0300" in n["name"] for n in showing(nodes))  # the index team's number
    secrets = screens["record"][0]["secrets"]
    _, locked = screens["locked"]
    heard = "\n".join(f"{n['name']}\n{n['description']}\n{n['text']}" for n in locked)
    assert "cpdesk is locked" in heard
    assert [s for s in secrets if s in heard] == []


# -- the child: the real app, as `cpdesk` builds it ---------------------------------------


def _visible_labels(window: Any) -> list[str]:
    """The texts a sighted user can read in plain labels, as plain text."""
    from PySide6.QtGui import QTextDocumentFragment
    from PySide6.QtWidgets import QLabel

    texts = []
    for label in window.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        text = label.text()
        if text.lstrip().startswith("<") or "<b>" in text:  # rich text
            text = QTextDocumentFragment.fromHtml(text).toPlainText()
        elif label.buddy() is not None:
            text = text.replace("&", "")  # a mnemonic, not text
        texts.append(" ".join(text.split()))
    return texts


def _child(base_url: str, ca_cert: str, pin: str) -> int:
    from cpdesk.app import Connection, build_app
    from cpdesk.policy import load_policy
    from cpdesk.records import AccessReason, format_nhs_number
    from cpdesk.session import SessionState
    from cpindex.seed.demo import FIXED_CHILDREN
    from tests.e2e.test_lock_dbus import _wait
    from tests.helpers.drive import submit_search, submit_sign_in

    with tempfile.TemporaryDirectory() as empty:
        policy = load_policy(Path(empty), environ={})
    app = build_app(policy, Connection(base_url, ca_cert, (pin,)))
    window, controller = app.window, app.controller
    wait: Callable[[Callable[[], bool]], bool] = lambda c: _wait(app.qapp, c, 30)  # noqa: E731

    def screen(name: str, **extra: object) -> None:
        """Say what is on screen, then keep the event loop running (the screen reader's
        questions are answered there) until the test has read the tree."""
        _wait(app.qapp, lambda: False, 0.3)  # accessibility updates delivered
        read = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), read.set()), daemon=True).start()
        print("SCREEN " + json.dumps({"screen": name, "labels": _visible_labels(window), **extra}),
              flush=True)  # fmt: skip
        assert _wait(app.qapp, read.is_set, 300)

    try:
        window.show()
        page = window.signin
        submit_sign_in(page, password="not-the-password")
        assert wait(lambda: page.message.isVisible())
        screen("sign-in")
        submit_sign_in(page)
        assert wait(lambda: app.session.state is SessionState.ACTIVE)
        assert app.startup.ticker is not None
        app.startup.ticker.stop()  # the time left stays as read: the walk takes a while
        olivia = next(c for c in FIXED_CHILDREN if c.family == "Smithfield" and "Olivia" in c.given)
        assert window.work is not None
        submit_search(window.work.form, "Olivia", "Smithfield", olivia.birth_date)
        assert wait(lambda: controller.state.results is not None)
        screen("results")
        controller.open_record(olivia.index_id, AccessReason.EMERGENCY_CARE)
        assert wait(lambda: controller.state.showing_record)
        opened = controller.state.opened
        assert opened is not None
        record = opened.record
        people = [(c.relationship or "Carer", c.contact) for c in record.carers]
        people += [(i.role or "Practitioner", i.contact) for i in record.involvements]
        places = (("School", record.school), ("GP practice", record.gp))
        people += [(kind, org.contact) for kind, org in places if org]
        contacts = [(f"{who}'s phone", c.phone) for who, c in people if c.phone]
        contacts += [(f"{who}'s email", c.email) for who, c in people if c.email]
        child = record.summary
        secrets = [*child.given, child.family, format_nhs_number(child.nhs_number), *record.address]
        secrets += [c.name for c in record.carers] + [i.practitioner for i in record.involvements]
        secrets += [org.name for org in (record.school, record.gp) if org]
        secrets += [value for _, value in contacts]
        secrets = [s for s in secrets if len(s) >= 4]
        screen("record", contacts=contacts, secrets=secrets)
        jayden = next(c for c in FIXED_CHILDREN if c.shielded)
        controller.back_to_results()
        controller.open_record(jayden.index_id, AccessReason.EMERGENCY_CARE)
        assert wait(
            lambda: bool(controller.state.opened and controller.state.opened.record.shielded)
        )
        screen("shielded")
        controller.back_to_results()
        controller.open_record(olivia.index_id, AccessReason.EMERGENCY_CARE)
        assert wait(
            lambda: bool(controller.state.opened and not controller.state.opened.record.shielded)
        )
        controller.lock()
        screen("locked")
        return 0
    finally:
        app.shutdown()


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))
