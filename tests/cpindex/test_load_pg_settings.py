"""The PostgreSQL settings check at start: one warning per setting that is off what the
index needs (docs/index.md, "Settings the index needs"); nothing on SQLite."""

from __future__ import annotations

from sqlalchemy import Engine

from cpindex.store.db import postgres_settings_off


def test_each_setting_off_is_named_and_a_fixed_one_is_not(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            assert postgres_settings_off(conn) == []
            return
        conn.exec_driver_sql("SET random_page_cost = 4")
        conn.exec_driver_sql("SET jit = on")
        conn.exec_driver_sql("SET work_mem = '4MB'")
        off = postgres_settings_off(conn)
        named = {line.split()[0] for line in off}
        assert {"random_page_cost", "jit", "work_mem"} <= named
        conn.exec_driver_sql("SET random_page_cost = 1.1")
        conn.exec_driver_sql("SET jit = off")
        conn.exec_driver_sql("SET work_mem = '16MB'")
        named = {line.split()[0] for line in postgres_settings_off(conn)}
        assert not named & {"random_page_cost", "jit", "work_mem"}
        conn.rollback()
