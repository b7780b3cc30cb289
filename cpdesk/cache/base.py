"""The cache seam: what the client needs from a record cache, and a cache that keeps nothing.

The UI and app talk to `RecordCache` only, so the encrypted SQLCipher store (its own
issue) slots in without touching them. `NullCache` is what the app runs today, whatever
`cache_enabled` says (the encrypted store is not yet available), and what stands in when
a real cache fails to open: a miss every time, never an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cpdesk.records import ChildRecord

__all__ = ["CachedRecord", "NullCache", "RecordCache"]


@dataclass(frozen=True)
class CachedRecord:
    """A record read back from the cache, with when it was stored ("cached at 14:02")."""

    record: ChildRecord = field(repr=False)
    cached_at: dt.datetime


class RecordCache(Protocol):
    """Records the user opened today; expired entries read as missing."""

    def put(self, record: ChildRecord) -> None: ...

    def get(self, index_id: str) -> CachedRecord | None: ...

    def purge(self) -> None:
        """Delete every entry (sign-out, lock-to-logout)."""
        ...

    def close(self) -> None: ...


class NullCache:
    """Stores nothing: every `get` is a miss."""

    def put(self, record: ChildRecord) -> None:
        return None

    def get(self, index_id: str) -> CachedRecord | None:
        return None

    def purge(self) -> None:
        return None

    def close(self) -> None:
        return None
