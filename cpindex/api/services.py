"""`Services`: what every router needs (store, settings, clock, sessions), built once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

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

    @classmethod
    def build(
        cls, engine: Engine, settings: ServerSettings | None = None, clock: Clock | None = None
    ) -> Services:
        settings = settings or ServerSettings()
        clock = clock or SystemClock()
        sessions = SessionStore(
            engine,
            clock,
            idle=dt.timedelta(minutes=settings.idle_minutes),
            absolute=dt.timedelta(hours=settings.absolute_hours),
            lockout_failures=settings.lockout_failures,
            lockout=dt.timedelta(minutes=settings.lockout_minutes),
        )
        return cls(engine, settings, clock, sessions)
