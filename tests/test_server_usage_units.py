"""The usage log's third migration: a database written before it (schema 2) gains the
``audio_seconds`` and ``images`` columns on open, with its rows kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from polymux.server.store import MIGRATIONS, Store, UsageRecord


def test_a_schema_2_database_gains_the_unit_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    for migration in MIGRATIONS[:2]:
        con.executescript(migration)
    con.execute(
        "INSERT INTO usage (ts, endpoint, status, stream, prompt_tokens) "
        "VALUES (1.0, '/v1/chat/completions', 200, 0, 12)"
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    with Store(db) as store:
        assert store.schema_version == len(MIGRATIONS)  # every later migration applied too
        store.log_usage(
            [UsageRecord(endpoint="/v1/audio/transcriptions", status=200, audio_seconds=61.5)]
        )
        old, new = store.usage_rows()
    assert old["prompt_tokens"] == 12 and old["audio_seconds"] is None and old["images"] is None
    assert new["audio_seconds"] == 61.5
