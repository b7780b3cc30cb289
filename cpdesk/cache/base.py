"""The cache seam: what the client needs from a record cache, and a cache that keeps nothing.

The UI and app talk to `RecordCache` only. `EncryptedStore` (SQLCipher) is the real one;
`NullCache` is what runs when policy turns the cache off, or when the real one cannot be
created: a miss every time, never an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cpdesk.cache.store import CachedBundle, OfflineView

__all__ = ["NullCache", "RecordCache"]


class RecordCache(Protocol):
    """Record Bundles the user opened today; expired entries read as missing."""

    def put(self, index_id: str, bundle: bytes) -> None: ...

    def get(self, index_id: str) -> CachedBundle | None: ...

    def recent(self) -> list[CachedBundle]:
        """Live entries, newest first ("Records you opened today")."""
        ...

    def sweep(self) -> int: ...

    def note_offline_view(self, index_id: str) -> None: ...

    def pending_views(self) -> list[OfflineView]: ...

    def views_sent(self, ids: list[int]) -> None: ...

    def purge(self) -> None:
        """Crypto-erase this user's cache (sign-out, lock-to-logout)."""
        ...

    def close(self) -> None: ...


class NullCache:
    """Stores nothing: every `get` is a miss."""

    def put(self, index_id: str, bundle: bytes) -> None:
        return None

    def get(self, index_id: str) -> CachedBundle | None:
        return None

    def recent(self) -> list[CachedBundle]:
        return []

    def sweep(self) -> int:
        return 0

    def note_offline_view(self, index_id: str) -> None:
        return None

    def pending_views(self) -> list[OfflineView]:
        return []

    def views_sent(self, ids: list[int]) -> None:
        return None

    def purge(self) -> None:
        return None

    def close(self) -> None:
        return None
