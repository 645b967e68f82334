"""Parsing the next files while the database merges the previous ones (PostgreSQL).

An import is Python work (reading, parsing and checking the rows, formatting them for
``COPY``) and server work (resolving, merging, deriving). Done one after the other they
add up; here a thread parses the files in the import's order ahead of the main thread
and writes each file's rows, formatted for ``COPY … FROM STDIN``, to a temporary file on
disk (``Spool``), which the main thread streams to the server when it reaches that file.
Psycopg releases the GIL while the server works, so the two overlap on two cores, and
memory stays flat (the rows wait on disk, not in memory).

What parsing finds (bad rows, counts, refused ids, warnings) is kept per file in a
``FileSink`` and handed to the report by the main thread when it reaches the file, so the
report is the same, in the same order, as when the files are read one after the other.
The parsing thread never touches the database.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils import translation

from vrop.integrations.exchange.report import MAX_ERRORS, FileCounts, ImportReport, RowError

CHUNK_BYTES = 1 << 20
# While a file is parsed, the main thread takes the GIL back after each statement it sends
# to the server: with Python's default switch interval (5 ms) it waits up to that long
# each time, the parsing thread holding the GIL (about 1.7 s of an import of 240k rows,
# most of the time of the first, small files). Shorter while any parsing thread runs.
SWITCH_INTERVAL_S = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0
_switch_before = 0.0


def _fast_switching(on: bool) -> None:
    global _switch_users, _switch_before
    with _switch_lock:
        if on:
            if _switch_users == 0:
                _switch_before = sys.getswitchinterval()
                sys.setswitchinterval(min(_switch_before, SWITCH_INTERVAL_S))
            _switch_users += 1
        else:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_before)


class FileSink:
    """What parsing one file found, kept until the main thread reaches the file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RowError] = []
        self.errors_total = 0
        self.counts: FileCounts | None = None
        self.rejected: set[str] = set()
        self.failed = False
        self.warnings: list[str] = []

    def error(self, file: str, line: int, reason: str, column: str = "") -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file, line, str(reason), column))

    def file_counts(self) -> FileCounts:
        if self.counts is None:
            self.counts = FileCounts()
        return self.counts

    def reject(self, ident: str) -> None:
        self.rejected.add(ident)

    def fail(self) -> None:
        self.failed = True

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def apply(self, report: ImportReport, rejected: set[str], failed: set[str]) -> None:
        """Hand what was found to the report (in the order it was found)."""
        for error in self.errors:
            report.error(error.file, error.line, error.reason, error.column)
        report.errors_total += self.errors_total - len(self.errors)
        if self.counts is not None:
            report.file(self.file).rows += self.counts.rows
        rejected |= self.rejected
        if self.failed:
            failed.add(self.file)
        report.warnings.extend(self.warnings)
        self.errors, self.rejected, self.warnings = [], set(), []


class DirectSink(FileSink):
    """A sink that writes to the report at once (files parsed by the main thread as
    they load: managers and plans, whose checks interleave with the parse)."""

    def __init__(self, file: str, report: ImportReport, rejected: set, failed: set) -> None:
        super().__init__(file)
        self.report, self._rejected, self._failed = report, rejected, failed

    def error(self, file: str, line: int, reason: str, column: str = "") -> None:
        self.report.error(file, line, reason, column)

    def file_counts(self) -> FileCounts:
        return self.report.file(self.file)

    def reject(self, ident: str) -> None:
        self._rejected.add(ident)

    def fail(self) -> None:
        self._failed.add(self.file)

    def warn(self, text: str) -> None:
        self.report.warnings.append(text)


@dataclass
class Parsed:
    """One file, parsed (or being parsed): its staging table and its rows."""

    file: str
    table: str
    columns: list[tuple[str, str]]  # staging columns: (name, type)
    rows: Callable[[], Iterator[list]] | None  # the rows as Python values; None: unusable
    sink: FileSink
    state: dict = field(default_factory=dict)  # what the rows told (filled as they go)
    count: int = 0
    spool: Spool | None = None


# --- COPY text -------------------------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


_FORMATS: dict[type, Callable] = {
    str: _text,
    int: str,
    Decimal: str,
    bool: lambda value: "t" if value else "f",
    date: date.isoformat,
    datetime: lambda value: value.isoformat(" "),
}


def copy_line(row: Iterable) -> str:
    """One row in the text format of ``COPY … FROM STDIN`` (PostgreSQL)."""
    formats = _FORMATS
    return (
        "\t".join(
            [
                "\\N" if value is None else (formats.get(type(value)) or _other)(value)
                for value in row
            ]
        )
        + "\n"
    )


def _other(value) -> str:
    for kind, format_ in _FORMATS.items():
        if isinstance(value, kind):
            return format_(value)
    raise TypeError(f"cannot COPY a {type(value).__name__}")


# --- the spool -------------------------------------------------------------------------


class Spool:
    """An append-only temporary file written by one thread and read by another as it
    grows."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="vrop-import-")
        self._fd = self._file.fileno()
        self._written = 0
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def write(self, data: bytes) -> None:
        os.write(self._fd, data)  # the file is not shared for writing: one writer
        with self._cond:
            self._written += len(data)
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._done, self._error = True, error
            self._cond.notify_all()

    def wait(self) -> None:
        """Until the writer has finished; re-raises its error."""
        with self._cond:
            while not self._done:
                self._cond.wait()
        if self._error is not None:
            raise self._error

    def chunks(self) -> Iterator[bytes]:
        offset = 0
        while True:
            with self._cond:
                while self._written == offset and not self._done:
                    self._cond.wait()
                written, done, error = self._written, self._done, self._error
            if error is not None:
                raise error
            while offset < written:
                data = os.pread(self._fd, min(CHUNK_BYTES, written - offset), offset)
                offset += len(data)
                yield data
            if done and offset >= written:
                return

    def close(self) -> None:
        self._file.close()


class Prefetcher:
    """A thread that parses the given files, in order, into spools."""

    def __init__(self, parse: Callable[[str, FileSink], Parsed], files: list[str]) -> None:
        self._parse = parse
        self._files = files
        self._results: dict[str, Parsed | None] = {}
        self._ready = {file: threading.Event() for file in files}
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._language = translation.get_language()
        self._thread = threading.Thread(target=self._run, name="vrop-import-parse", daemon=True)
        _fast_switching(True)
        self._closed = False
        self._thread.start()

    def _run(self) -> None:
        try:
            with translation.override(self._language):
                for file in self._files:
                    if self._stop.is_set():
                        break
                    parsed = self._parse(file, FileSink(file))
                    if parsed.rows is not None:
                        parsed.spool = Spool()
                    self._results[file] = parsed
                    self._ready[file].set()
                    if parsed.spool is not None:
                        self._fill(parsed)
        except BaseException as error:  # handed to the main thread
            self._error = error
        finally:
            for ready in self._ready.values():
                ready.set()

    def _fill(self, parsed: Parsed) -> None:
        spool = parsed.spool
        buffer: list[str] = []
        size = 0
        count = 0
        try:
            for row in parsed.rows():
                line = copy_line(row)
                buffer.append(line)
                size += len(line)
                count += 1
                if size >= CHUNK_BYTES // 2:
                    spool.write("".join(buffer).encode())
                    buffer, size = [], 0
                    if self._stop.is_set():
                        raise InterruptedError("import stopped")
            if buffer:
                spool.write("".join(buffer).encode())
            parsed.count = count
        except BaseException as error:
            spool.finish(error)
            return
        spool.finish()

    def get(self, file: str) -> Parsed:
        """The file as parsed (its spool may still be filling)."""
        self._ready[file].wait()
        if file not in self._results:
            raise self._error or RuntimeError(f"{file} was not parsed")
        return self._results[file]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if not self._closed:
            self._closed = True
            _fast_switching(False)
        for parsed in self._results.values():
            if parsed.spool is not None:
                parsed.spool.close()
