"""Reading the files of an import: a folder or a .zip, any of the encodings people's
tools write (UTF-8 with or without BOM, CP1251), ``,`` ``;`` or tab as the delimiter,
quoted values with newlines inside. Rows are streamed, one at a time, with the line
on which each begins."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")


class SourceError(Exception):
    """The import cannot be read at all (not a folder, not a zip, bad path)."""


class Source:
    """A folder or a zip with the files of one import."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}  # lower-case file name -> member / path
        self._root = ""
        if self.path.is_dir():
            for child in self.path.iterdir():
                if child.is_file():
                    self._names[child.name.lower()] = child.name
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            members = [m for m in self._zip.namelist() if not m.endswith("/")]
            managers = sorted(
                (m for m in members if PurePosixPath(m).name.lower() == "managers.csv"),
                key=lambda m: (m.count("/"), m),
            )
            if managers:
                parent = str(PurePosixPath(managers[0]).parent)
                self._root = "" if parent == "." else parent + "/"
            for member in members:
                if member.startswith(self._root) and "/" not in member[len(self._root) :]:
                    self._names[PurePosixPath(member).name.lower()] = member
        else:
            raise SourceError(str(path))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return name.lower() in self._names

    def open_binary(self, name: str) -> IO[bytes]:
        stored = self._names[name.lower()]
        if self._zip is not None:
            return self._zip.open(stored)
        return open(self.path / stored, "rb")

    def read_relative(self, relative: str) -> bytes | None:
        """A file named relative to the import folder (transcripts); None if absent.

        Absolute paths and paths leaving the folder are refused with ``ValueError``.
        """
        relative = relative.replace("\\", "/")
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or not relative.strip():
            raise ValueError(relative)
        if self._zip is not None:
            try:
                return self._zip.read(self._root + str(pure))
            except KeyError:
                return None
        target = self.path / Path(*pure.parts)
        if not target.is_file():
            return None
        return target.read_bytes()


def detect_encoding(stream: IO[bytes]) -> str:
    """UTF-8 with a BOM, UTF-8, or else CP1251 (what Russian Excel writes).

    The whole file is checked, a chunk at a time: a CP1251 file may begin with a page
    of plain ASCII.
    """
    head = stream.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = head
    try:
        while chunk:
            decoder.decode(chunk, final=False)
            chunk = stream.read(SNIFF_BYTES * 16)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def detect_delimiter(first_line: str, known: list[str]) -> str:
    """The delimiter that splits the header into the most known column names."""
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        names = [n.strip().strip('"').strip().lower() for n in first_line.split(delimiter)]
        score = (sum(1 for n in names if n in known), len(names))
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvFile:
    """One CSV file of an import: header and rows with their starting line numbers."""

    def __init__(self, source: Source, name: str, known: list[str]) -> None:
        self.name = name
        with source.open_binary(name) as probe:
            self.encoding = detect_encoding(probe)
        with source.open_binary(name) as probe:
            head = probe.read(SNIFF_BYTES)
        text_head = head.decode(self.encoding, errors="replace")
        first_line = text_head.splitlines()[0] if text_head else ""
        self.delimiter = detect_delimiter(first_line, known)
        self._binary = source.open_binary(name)
        self._text = io.TextIOWrapper(self._binary, encoding=self.encoding, newline="")
        self._reader = csv.reader(self._text, delimiter=self.delimiter, quotechar='"')
        self.header: list[str] = []
        self.header_line = 1
        for row in self._reader:
            if any(cell.strip() for cell in row):
                self.header = [cell.strip().lstrip("\ufeff").strip() for cell in row]
                self.header_line = self._reader.line_num
                break
        self._last_line = self.header_line

    def close(self) -> None:
        self._text.close()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, values)`` per record; ``line`` is where the record starts.

        A decoding or CSV syntax error stops the file with ``UnicodeDecodeError`` or
        ``csv.Error``; ``self.failed_line`` is the line where it happened.
        """
        reader = self._reader
        last = self._last_line
        self.failed_line = last + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error):
                self.failed_line = last + 1
                raise
            start = last + 1
            last = reader.line_num
            self.failed_line = last + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield start, row
