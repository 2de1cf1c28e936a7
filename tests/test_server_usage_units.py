"""The usage log's migrations: a database written before one gains its columns on open,
with its rows kept (schema 2 -> the unit columns; schema 4 -> request id, cost, cache)."""

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


def test_a_schema_4_database_gains_request_id_cost_cached_and_key_metadata(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    for migration in MIGRATIONS[:4]:
        con.executescript(migration)
    con.execute(
        "INSERT INTO keys (name, hash, prefix, created) VALUES ('team', 'ab', 'mm-abc', 1.0)"
    )
    con.execute("INSERT INTO usage (ts, endpoint, status) VALUES (1.0, '/v1/embeddings', 200)")
    con.execute("PRAGMA user_version = 4")
    con.commit()
    con.close()
    with Store(db) as store:
        assert store.schema_version == len(MIGRATIONS)
        store.log_usage(
            [
                UsageRecord(
                    endpoint="/v1/chat/completions",
                    status=200,
                    request_id="req-1",
                    cost=0.0125,
                    cached=True,
                )
            ]
        )
        old, new = store.usage_rows()
        (key,) = store.list_keys()
    assert (old["request_id"], old["cost"], old["cached"]) == (None, None, 0)
    assert (new["request_id"], new["cost"], new["cached"]) == ("req-1", 0.0125, 1)
    assert key.name == "team"


def test_key_limits_round_trip_through_their_json_column() -> None:
    from polymux.server.store import KeyLimits

    limits = KeyLimits(rpm=100, budget=5.0, budget_period="day", models=("gpt-4o-mini",))
    text = limits.to_json()
    assert text is not None and KeyLimits.from_json(text) == limits
    assert KeyLimits().to_json() is None and KeyLimits.from_json(None) == KeyLimits()
    # A name written by a newer gateway is ignored, not an error.
    assert KeyLimits.from_json('{"rpm": 3, "future_limit": 1}') == KeyLimits(rpm=3)
