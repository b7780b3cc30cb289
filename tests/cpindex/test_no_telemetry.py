"""The index hands nothing to OpenTelemetry, whatever the host has configured.

FastAPI (0.16x) traces every request by itself as soon as a global tracer or meter
provider exists (an operations team's standard `OTEL_PYTHON_TRACER_PROVIDER`, or any
library that sets one), and a server span carries `url.query`: a search's family name,
given name and date of birth, sent to a trace collector outside the index's audit and
retention rules. The attack here installs recording providers the way such a set-up
would, then searches: nothing may reach them (on the code before the fix, every search's
span held the child's name).
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from sqlalchemy import Engine

from cpindex.api import create_app
from cpindex.clock import ManualClock
from cpindex.seed.demo import fixed_child
from tests.cpindex.conftest import TestClient, build_services, sign_in


class _RecordingTracer(trace.NoOpTracer):
    def __init__(self, seen: list[str]) -> None:
        self._seen = seen

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        attributes = kwargs.get("attributes") or (args[2] if len(args) > 2 else None) or {}
        self._seen.append(f"{name} {sorted(dict(attributes).items())}")
        return super().start_span(name, *args, **kwargs)


class _RecordingTracerProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        self.seen.append("tracer asked for")
        return _RecordingTracer(self.seen)


class _RecordingMeterProvider(metrics.NoOpMeterProvider):
    def __init__(self) -> None:
        self.asked = 0

    def get_meter(self, *args: Any, **kwargs: Any) -> metrics.Meter:
        self.asked += 1
        return super().get_meter(*args, **kwargs)


def test_a_configured_telemetry_provider_receives_nothing(
    seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracer_provider = _RecordingTracerProvider()
    meter_provider = _RecordingMeterProvider()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", meter_provider)
    child = fixed_child("Smithfield", "Olivia")
    clock = ManualClock()
    with TestClient(create_app(build_services(seeded_engine, clock=clock))) as client:
        token = sign_in(client, clock)
        response = client.get(
            "/Patient",
            params={
                "family": child.family,
                "given": child.given[0],
                "birthdate": child.birth_date.isoformat(),
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
    assert child.family in response.text  # the search did find the child
    leaked = [entry for entry in tracer_provider.seen if child.family in entry]
    assert leaked == [], "a search's query reached a tracer"
    assert tracer_provider.seen == []
    assert meter_provider.asked == 0
