"""The parsing thread of an import: COPY text, the spool read while it grows, errors
handed back to the main thread."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from vrop.integrations.exchange.pipeline import (
    SWITCH_INTERVAL_S,
    FileSink,
    Parsed,
    Prefetcher,
    Spool,
    copy_line,
)
from vrop.integrations.exchange.report import ImportReport


def test_copy_line_formats_and_escapes():
    moscow = timezone(timedelta(hours=3))
    row = [
        1,
        None,
        "a\tb\nc\\d\re",
        Decimal("12.50"),
        date(2026, 3, 5),
        datetime(2026, 3, 5, 10, 15, tzinfo=moscow),
        True,
        "",
    ]
    assert copy_line(row) == (
        "1\t\\N\ta\\tb\\nc\\\\d\\re\t12.50\t2026-03-05\t2026-03-05 10:15:00+03:00\tt\t\n"
    )


def test_copy_line_refuses_what_it_cannot_write():
    with pytest.raises(TypeError):
        copy_line([object()])


def test_spool_is_read_while_it_is_written():
    spool = Spool()
    parts = [f"row {i}\n".encode() * 1000 for i in range(20)]
    go = threading.Event()

    def writer():
        for part in parts:
            go.wait(1)
            spool.write(part)
        spool.finish()

    thread = threading.Thread(target=writer)
    thread.start()
    go.set()
    assert b"".join(spool.chunks()) == b"".join(parts)
    thread.join()
    spool.close()


def test_a_failure_in_the_parsing_thread_reaches_the_reader():
    def parse(file, sink):
        def rows():
            yield [1, "ok"]
            raise ValueError("broken")

        return Parsed(file, "t", [("a", "bigint"), ("b", "text")], rows, sink)

    prefetcher = Prefetcher(parse, ["a.csv"])
    try:
        parsed = prefetcher.get("a.csv")
        with pytest.raises(ValueError, match="broken"):
            list(parsed.spool.chunks())
    finally:
        prefetcher.close()


def test_a_failure_before_the_rows_stops_the_later_files_too():
    def parse(file, sink):
        raise KeyError(file)

    prefetcher = Prefetcher(parse, ["a.csv", "b.csv"])
    try:
        with pytest.raises(KeyError):
            prefetcher.get("b.csv")
    finally:
        prefetcher.close()


def test_the_switch_interval_is_short_while_any_parsing_thread_runs():
    def parse(file, sink):
        return Parsed(file, "t", [("a", "bigint")], lambda: iter([[1]]), sink)

    before = sys.getswitchinterval()
    first = Prefetcher(parse, ["a.csv"])
    second = Prefetcher(parse, ["b.csv"])
    try:
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
        first.close()
        first.close()  # twice: still counted once
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
    finally:
        first.close()
        second.close()
    assert sys.getswitchinterval() == before


def test_sink_keeps_the_order_and_the_total_of_errors():
    report = ImportReport()
    report.error("managers.csv", 2, "first")
    sink = FileSink("deals.csv")
    sink.file_counts().rows = 3
    sink.error("deals.csv", 2, "second", "amount")
    sink.error("deals.csv", 3, "third")
    sink.reject("d1")
    rejected: set[str] = set()
    failed: set[str] = set()
    sink.apply(report, rejected, failed)
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "first"),
        (2, "second"),
        (3, "third"),
    ]
    assert report.errors_total == 3
    assert report.counts["deals.csv"].rows == 3
    assert rejected == {"d1"} and failed == set()


def test_utc_moments_keep_their_offset():
    assert copy_line([datetime(2026, 1, 1, tzinfo=UTC)]) == "2026-01-01 00:00:00+00:00\n"
