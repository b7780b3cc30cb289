from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from cpdesk.net import IndexClient, make_http_session
from tests.helpers.fake_transport import FakeTransport, fhir_json, mount_fake

from . import samples

BASE = "https://index.test:8443"


class Faked:
    """An IndexClient wired to a FakeTransport whose answers a test queues or computes."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.client = IndexClient(session, BASE, retry_backoff=0.001)
        self.answers: list[Any] = []
        self.transport: FakeTransport = mount_fake(session, BASE, self._handle)

    def _handle(self, request: requests.PreparedRequest) -> requests.Response:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            result: requests.Response = answer(request)
            return result
        return answer  # type: ignore[no-any-return]

    def queue(self, *answers: Any) -> None:
        self.answers = list(answers)

    def sign_in(self) -> None:
        self.queue(fhir_json(201, samples.session_body()))
        self.client.sign_in("nurse.demo", "pw", "123456")
        self.transport.sent.clear()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """The app's own kind of session, closed after the test."""
    session = make_http_session()
    yield session
    session.close()


@pytest.fixture
def faked() -> Iterator[Faked]:
    session = make_http_session()
    yield Faked(session)
    session.close()


@pytest.fixture
def signed_in(faked: Faked) -> Faked:
    faked.sign_in()
    return faked


Answer = Callable[[requests.PreparedRequest], requests.Response]
