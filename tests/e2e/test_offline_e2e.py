"""Offline re-view end to end: the real app, a real index stopped and started again.

Records opened while the index answers go into the user's encrypted cache; with the
index stopped, those open under the "Offline copy" banner (the view queued), a record
never opened says it is not available offline; with the index back, the queued views
reach its audit chain with their original times and `cpindex audit verify` passes. No
file under the app's folders or the temp folder holds the child's details; after
sign-out no cache file is left.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from cpdesk.controller import NotCachedOffline
from cpdesk.records import AccessReason
from cpdesk.session import SessionState
from tests.cpdesk.cache.helpers import scan
from tests.e2e.conftest import connection_for, sign_in_ok
from tests.helpers.index_server import start_index

REASON = AccessReason.HEALTH_CARE


def children(db_url: str, n: int) -> list[str]:
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    rows = con.execute(
        "SELECT index_id FROM child WHERE shielded = 0 ORDER BY pk LIMIT ?", (n,)
    ).fetchall()
    con.close()
    return [r[0] for r in rows]


def offline_rows(db_url: str) -> list[tuple[str, dict[str, str], str]]:
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    rows = con.execute(
        "SELECT patient_id, detail, at FROM audit_event WHERE action = 'offline-view' ORDER BY id"
    ).fetchall()
    con.close()
    return [(r[0], json.loads(r[1]), str(r[2])) for r in rows]


def needles_of(record: object) -> list[bytes]:
    from cpdesk.records import ChildRecord

    assert isinstance(record, ChildRecord)
    s = record.summary
    values = [*s.given, s.family, s.nhs_number, s.birthdate.isoformat() if s.birthdate else ""]
    values += [c.contact.phone for c in record.carers if c.contact.phone]
    out = []
    for v in values:
        if len(v) >= 4:
            out += [v.encode("utf-8"), v.encode("utf-16-le")]
    return out


def test_offline_re_view_and_its_audit(qtbot, make_app, tmp_path: Path, folders) -> None:
    index = start_index(tmp_path / "index", children=2000, seed=1, tls=True)
    try:
        app = make_app(connection_for(index))
        sign_in_ok(qtbot, app)
        c = app.controller
        a, b, never = children(index.db_url, 3)
        for child in (a, b):
            c.open_record(child, REASON)
            qtbot.waitUntil(
                lambda child=child: (
                    c.state.opened is not None and c.state.opened.record.index_id == child
                ),
                timeout=20000,
            )
            assert c.state.opened is not None and c.state.opened.offline_since is None
        c.back_to_results()

        index.stop()
        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        c.open_record(a, REASON)
        qtbot.waitUntil(
            lambda: c.state.opened is not None and c.state.opened.offline_since is not None,
            timeout=30000,
        )
        after = dt.datetime.now(dt.UTC)
        record_a = c.state.opened.record
        work = app.window.work
        assert work is not None
        assert not work.record.cached.isHidden()
        banner = work.record.cached_text.text()
        assert banner.startswith("Offline copy from ") and banner.endswith("may be out of date")
        c.back_to_results()
        c.open_record(never, REASON)
        qtbot.waitUntil(
            lambda: work.notice.text() == NotCachedOffline.default_message, timeout=30000
        )
        qtbot.waitUntil(lambda: work.results.model.rowCount() == 2, timeout=10000)
        assert "Records you opened today" in work.results.message.text()

        # Nothing on disk names the child: database, WAL, wrapped key, config, temp.
        wanted = needles_of(record_a)
        assert scan(folders, wanted) == []
        (folders[3] / "plaintext-copy.txt").write_bytes(b" ".join(wanted))
        assert {n for _, n in scan(folders, wanted)} == set(wanted)  # the scan can fail
        (folders[3] / "plaintext-copy.txt").unlink()

        index = start_index(tmp_path / "index", same_as=index)
        c.open_record(b, REASON)
        qtbot.waitUntil(
            lambda: (
                c.state.opened is not None
                and c.state.opened.record.index_id == b
                and c.state.opened.offline_since is None
            ),
            timeout=30000,
        )
        qtbot.waitUntil(lambda: len(offline_rows(index.db_url)) == 1, timeout=20000)
        (patient, detail, _received) = offline_rows(index.db_url)[0]
        assert patient == a
        reported = dt.datetime.fromisoformat(detail["reported_at"].replace("Z", "+00:00"))
        assert before <= reported <= after
        verify = subprocess.run(
            [sys.executable, "-m", "cpindex", "audit", "verify", "--db", index.db_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr

        cache_folder = folders[1] / "cpdesk" / "records"
        assert {p.suffix for p in cache_folder.iterdir()} >= {".db", ".key"}
        c.sign_out()
        qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT, timeout=10000)
        app.auth_runner.wait(10000)
        assert list(cache_folder.iterdir()) == []
    finally:
        index.stop()
