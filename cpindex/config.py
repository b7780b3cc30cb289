"""Server settings: each `cpindex serve` option also has an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cpindex.seed.demo import INDEX_TEAM_PHONE

__all__ = ["ServerSettings", "env_float", "env_int"]


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class ServerSettings:
    """Limits and contact details. Rate limits and lock-out are enforced from part 2 on."""

    idle_minutes: float = 15.0
    absolute_hours: float = 10.0
    search_limit: int = 30
    view_limit: int = 60
    lockout_failures: int = 5
    lockout_minutes: float = 15.0
    index_team_phone: str = INDEX_TEAM_PHONE

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            idle_minutes=env_float("CPINDEX_IDLE_MINUTES", 15.0),
            absolute_hours=env_float("CPINDEX_ABSOLUTE_HOURS", 10.0),
            search_limit=env_int("CPINDEX_SEARCH_LIMIT", 30),
            view_limit=env_int("CPINDEX_VIEW_LIMIT", 60),
            lockout_failures=env_int("CPINDEX_LOCKOUT_FAILURES", 5),
            lockout_minutes=env_float("CPINDEX_LOCKOUT_MINUTES", 15.0),
        )
