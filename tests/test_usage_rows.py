"""Usage records written in one batch come back column for column and in order, whichever
of their optional columns they fill (None is bound through its own sqlite3 adapter)."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from polymux.server.store import Store, UsageRecord


def test_a_batch_of_rows_with_different_empty_columns_reads_back_as_written(
    tmp_path: Path,
) -> None:
    answered = UsageRecord(
        "/v1/chat/completions",
        200,
        ts=1.0,
        key_name="k",
        model="m",
        provider="p",
        stream=True,
        prompt_tokens=3,
        completion_tokens=4,
        total_tokens=7,
        latency_ms=12.5,
        ttft_ms=3.25,
        request_id="r1",
        cost=0.000125,
    )
    records = [
        answered,
        UsageRecord("/v1/chat/completions", 502, ts=1.0, error="upstream_error"),
        UsageRecord("/v1/audio/speech", 200, ts=1.0, key_name="k", characters=11, cached=True),
        replace(answered, prompt_tokens=1, request_id="r2", cost=0.5),  # its columns again
        UsageRecord(
            "/v1/images/generations",
            200,
            ts=1.0,
            images=2,
            request="q",
            response="a",
            audio_seconds=1.5,
        ),
    ]
    with Store(tmp_path / "usage.sqlite3") as store:
        store.log_usage(records)
        rows = store.usage_rows()
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        for field in fields(UsageRecord):
            expected = getattr(record, field.name)
            if field.name in ("stream", "cached"):
                expected = int(expected)
            assert row[field.name] == expected, field.name
