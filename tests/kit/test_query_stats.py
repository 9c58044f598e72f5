"""Statement shapes carry no values, and the timing histograms give a p95 within their
resolution while the memory they take stays bounded."""

from __future__ import annotations

import random
import uuid

from psycopg import sql

from tenantry.kit.query_stats import RATIO, QueryStats, bucket, merge, percentile, shape_of


def test_a_shape_has_no_values() -> None:
    shape = shape_of(
        "SELECT id FROM tenantry.app_users  -- by email\n"
        "WHERE email_normalized = 'ada@example.com' AND tenant_id = %s AND n > 42 "
        "AND flag = E'x\\'y' AND k IN ($1, $2) AND note = $q$secret$q$ AND v = %(name)s"
    )
    assert shape.keyword == "SELECT"
    assert "ada" not in shape.text
    assert "42" not in shape.text
    assert "secret" not in shape.text
    assert "by email" not in shape.text
    assert shape.text == (
        "SELECT id FROM tenantry.app_users WHERE email_normalized = ? AND tenant_id = ? "
        "AND n > ? AND flag = ? AND k IN (?, ?) AND note = ? AND v = ?"
    )


def test_the_same_statement_with_other_values_has_the_same_fingerprint() -> None:
    one = shape_of("UPDATE t SET n = 1 WHERE name = 'a'")
    other = shape_of("UPDATE  t SET n = 2\n WHERE name = 'bb'")
    assert one == other
    assert one.keyword == "UPDATE"
    assert one.fingerprint != shape_of("UPDATE t SET m = 1 WHERE name = 'a'").fingerprint


def test_identifiers_with_digits_are_kept() -> None:
    shape = shape_of('SELECT t1.x, "col2" FROM events_2026_11 t1')
    assert shape.text == 'SELECT t1.x, "col2" FROM events_2026_11 t1'


def test_composed_statements_have_shapes_too() -> None:
    query = sql.SQL("SELECT {} FROM {} WHERE id = {}").format(
        sql.Identifier("name"), sql.Identifier("tenantry", "tenants"), sql.Literal("x")
    )
    assert (
        shape_of(query.as_string()).text == 'SELECT "name" FROM "tenantry"."tenants" WHERE id = ?'
    )


def test_the_p95_of_a_histogram_is_within_its_resolution() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(-7, 1.2) for _ in range(20_000)]
    histogram: dict[int, int] = {}
    for seconds in samples:
        histogram[bucket(seconds)] = histogram.get(bucket(seconds), 0) + 1
    exact = sorted(samples)[int(0.95 * len(samples))]
    assert exact / RATIO**0.5 <= percentile(histogram, 0.95) <= exact * RATIO**0.5
    # Two halves merged give the same histogram as the whole.
    first: dict[int, int] = {}
    second: dict[int, int] = {}
    for n, seconds in enumerate(samples):
        part = first if n % 2 else second
        part[bucket(seconds)] = part.get(bucket(seconds), 0) + 1
    merge(first, second)
    assert first == histogram


def test_buckets_cover_ten_microseconds_to_minutes() -> None:
    assert bucket(0) == 0
    assert bucket(5e-6) == 0
    assert bucket(10e-6 * RATIO**10) == 10
    assert bucket(3600) == 95
    assert percentile({}, 0.95) == 0


def test_entries_are_bounded_and_overflow_is_counted() -> None:
    stats = QueryStats(max_entries=10)
    shape = shape_of("SELECT 1")
    tenants = [uuid.uuid4() for _ in range(25)]
    for tenant in tenants:
        stats.record(tenant, shape, 0.001)
        stats.record(tenant, shape, 0.002)
    assert len(stats) == 10
    drained = stats.drain()
    assert drained.dropped == 30
    assert sum(t.calls for t in drained.entries.values()) == 20
    assert len(stats) == 0
    stats.record(tenants[0], shape, 0.004)
    stats.restore(drained)
    assert len(stats) == 10
    assert stats.drain().entries[(tenants[0], shape.fingerprint)].calls == 3
