"""The cache seam: NullCache honours the protocol and never keeps a record."""

from __future__ import annotations

import datetime as dt

import cpdesk.cache
from cpdesk.cache import CachedRecord, NullCache, RecordCache
from cpdesk.records import ChildRecord, ChildSummary


def test_null_cache_keeps_nothing() -> None:
    cache: RecordCache = NullCache()
    record = ChildRecord(ChildSummary("ix-1", family="Canary"))
    cache.put(record)
    assert cache.get("ix-1") is None
    cache.purge()
    cache.close()
    assert cache.get("ix-1") is None


def test_cached_record_hides_the_record_from_repr() -> None:
    record = ChildRecord(ChildSummary("ix-1", family="Canarymarker"))
    cached = CachedRecord(record, dt.datetime(2026, 11, 26, 14, 2, tzinfo=dt.UTC))
    assert "Canarymarker" not in repr(cached)
    assert cached.record is record


def test_exports() -> None:
    for name in cpdesk.cache.__all__:
        assert hasattr(cpdesk.cache, name)
