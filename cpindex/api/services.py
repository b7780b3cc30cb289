"""`Services`: what every router needs (store, settings, clock, sessions, the audit's group
writer), built once per process."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from cpindex.audit.group import GroupWriter
from cpindex.auth.sealing import SecretBox
from cpindex.auth.sessions import SessionStore
from cpindex.clock import Clock, SystemClock
from cpindex.config import ServerSettings

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    engine: Engine
    settings: ServerSettings
    clock: Clock
    sessions: SessionStore
    audit_log: GroupWriter  # every request's audit rows, committed in groups

    @classmethod
    def build(
        cls,
        engine: Engine,
        settings: ServerSettings | None = None,
        clock: Clock | None = None,
        box: SecretBox | None = None,
    ) -> Services:
        """`box` opens sealed TOTP secrets (cpindex.auth.sealing); `cpindex serve` gives one."""
        settings = settings or ServerSettings()
        clock = clock or SystemClock()
        sessions = SessionStore(
            engine,
            clock,
            idle=dt.timedelta(minutes=settings.idle_minutes),
            absolute=dt.timedelta(hours=settings.absolute_hours),
            lockout_failures=settings.lockout_failures,
            lockout=dt.timedelta(minutes=settings.lockout_minutes),
            box=box,
        )
        return cls(engine, settings, clock, sessions, GroupWriter(engine, clock))
