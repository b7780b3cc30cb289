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


def test_the_index_sessions_set_what_a_session_can_on_a_default_server(
    seeded_engine: Engine,
) -> None:
    """jit, random_page_cost and work_mem are right in the index's own sessions even when
    the server keeps PostgreSQL's defaults (the test cluster does): the start-up check is
    left with what only the server's configuration can change."""
    with seeded_engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            return
        shown = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar_one()
            for name in ("jit", "random_page_cost", "work_mem")
        }
        assert shown == {"jit": "off", "random_page_cost": "1.1", "work_mem": "16MB"}
        server = dict(
            conn.exec_driver_sql(
                "SELECT name, boot_val FROM pg_settings WHERE name IN ('jit', 'random_page_cost')"
            ).all()
        )
        assert server == {"jit": "on", "random_page_cost": "4"}  # the defaults, overridden
        named = {line.split()[0] for line in postgres_settings_off(conn)}
        assert not named & {"random_page_cost", "jit", "work_mem"}
