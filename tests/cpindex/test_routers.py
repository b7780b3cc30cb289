"""The app is assembled from one router per resource; their declared parameters are real."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine

from cpindex.api import Services, create_app
from cpindex.api.metadata import capability_statement
from cpindex.api.patient import SEARCH_PARAMETERS
from cpindex.search.params import ALLOWED_PARAMETERS


def test_search_parameters_are_declared_once_for_all_readers() -> None:
    assert set(SEARCH_PARAMETERS) == ALLOWED_PARAMETERS
    statement = capability_statement(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    declared = statement["rest"][0]["resource"][0]["searchParam"]
    assert {p["name"] for p in declared} == ALLOWED_PARAMETERS
    spec = create_app(Services.build(create_engine("sqlite://"))).openapi()
    documented = {p["name"] for p in spec["paths"]["/Patient"]["get"]["parameters"]}
    assert documented == ALLOWED_PARAMETERS


def test_every_resource_has_its_router() -> None:
    app = create_app(Services.build(create_engine("sqlite://")))
    paths = set(app.openapi()["paths"])
    assert paths == {
        "/auth/session",
        "/auth/unlock",
        "/Patient",
        "/Patient/{patient_id}/$everything",
        "/AuditEvent",
        "/AuditEvent/$misuse",
        "/metadata",
        "/$feed",
        "/Communication",
        "/Communication/{notice_id}",
        "/Communication/{notice_id}/$done",
        "/Communication/{notice_id}/$relay",
        "/Communication/{notice_id}/$answer",
        "/PractitionerRole",
        "/PractitionerRole/{role_id}/$end",
        "/Task",
        "/Task/{item_id}",
        "/Task/{item_id}/$link",
        "/Task/{item_id}/$not-this-child",
    }
