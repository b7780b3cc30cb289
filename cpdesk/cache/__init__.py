"""Short-lived record cache: the seam (`RecordCache`) and the no-op `NullCache`."""

from cpdesk.cache.base import CachedRecord, NullCache, RecordCache

__all__ = ["CachedRecord", "NullCache", "RecordCache"]
