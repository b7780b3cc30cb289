"""Drive the real window as a user would, without qtbot (child processes, benchmarks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cpindex.seed.demo import DEMO_PASSWORD
from tests.helpers.index_server import totp_now

__all__ = ["submit_search", "submit_sign_in"]


def submit_sign_in(page: Any, username: str = "nurse.demo", password: str = DEMO_PASSWORD) -> None:
    """Fill the sign-in page (with the account's current one-time code) and press Sign in."""
    page.username.setText(username)
    page.password.setText(password)
    page.otp.setText(totp_now(username))
    page.button.click()


def submit_search(form: Any, given: str, family: str, born: dt.date) -> None:
    """Fill the search form and submit it."""
    form.given.setText(given)
    form.family.setText(family)
    form.dob.set_date(born)
    form.submit()
