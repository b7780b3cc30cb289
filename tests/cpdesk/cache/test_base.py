"""The cache seam: NullCache honours the protocol and never keeps a record."""

from __future__ import annotations

import cpdesk.cache
from cpdesk.cache import NullCache, RecordCache


def test_null_cache_keeps_nothing() -> None:
    cache: RecordCache = NullCache()
    cache.put("ix-1", b"{}")
    cache.note_offline_view("ix-1")
    cache.views_sent([1])
    assert cache.get("ix-1") is None
    assert cache.recent() == []
    assert cache.pending_views() == []
    assert cache.sweep() == 0
    cache.purge()
    cache.close()
    assert cache.get("ix-1") is None


def test_exports() -> None:
    for name in cpdesk.cache.__all__:
        assert hasattr(cpdesk.cache, name)
