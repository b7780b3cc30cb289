"""A user's first notices sent at once: each is stored or refused, never a server error.

The notice limit's counter row for a user is created by their first notice. Spending it
before the audit chain head was locked let two first notices both find no counter and
both insert one (on PostgreSQL: a unique violation, a 500, and a notice lost). Every
spender now locks the head first, as the audit's group writer does, so counters are
created and changed one transaction at a time, on every backend, by any number of
processes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
import requests
from sqlalchemy import Engine

from cpindex.audit.chain import verify_chain
from tests.cpindex.conftest import TEST_PASSWORD, engine_url, new_user
from tests.cpindex.test_notices import OLIVIA, body, linked_user
from tests.helpers.index_server import start_index


def test_first_notices_sent_at_once_are_all_answered(seeded_engine: Engine, tmp_path: Path) -> None:
    linked_user(seeded_engine, OLIVIA.involvements[0].email)
    with start_index(
        tmp_path, db_url=engine_url(seeded_engine), tls=False, extra_args=("--notice-limit", "50")
    ) as index:
        name, secret = new_user(seeded_engine)
        signed = requests.post(
            f"{index.base_url}/auth/session",
            json={"username": name, "password": TEST_PASSWORD, "otp": pyotp.TOTP(secret).now()},
            timeout=30,
        )
        auth = {"Authorization": f"Bearer {signed.json()['token']}"}
        opened = requests.get(
            f"{index.base_url}/Patient/{OLIVIA.index_id}/$everything",
            headers={**auth, "X-Access-Reason": "health-care"},
            timeout=30,
        )
        assert opened.status_code == 200

        def send(_: int) -> int:
            answer = requests.post(
                f"{index.base_url}/Communication", json=body(OLIVIA.index_id), headers=auth,
                timeout=60,
            )  # fmt: skip
            return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(send, range(8)))
    assert statuses == [201] * 8
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None
