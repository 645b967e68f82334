#!/usr/bin/env python3
"""Check the Russian catalogues of every app that has one (``vrop/<app>/locale``).

For each app: run ``makemessages -l ru --no-location`` on a temporary copy of the app and
fail if the set of messages would change (a string added, changed or removed in the code
but not in the catalogue); fail if any Russian ``msgstr`` is empty or fuzzy; fail if the
catalogue does not compile with format checks, or if the committed ``.mo`` is not the
compiled ``.po``. Run from anywhere: ``python scripts/i18n_check.py [app ...]``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vrop"
PO_PATH = Path("locale/ru/LC_MESSAGES/django.po")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    lines: tuple[int, int] = (0, 0)

    @property
    def key(self) -> tuple:
        return (self.msgctxt, self.msgid, self.msgid_plural)


def _unquote(text: str) -> str:
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"not a PO string: {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(text: str) -> list[Entry]:
    """The entries of a PO file (the header is the entry with an empty msgid).

    Line based: an entry starts at a comment or keyword line that follows a ``msgstr``
    (makemessages may write the first entry right under the header, with no blank line).
    Each entry remembers its line span in ``lines`` (start, end) for tools that rewrite it.
    """
    entries: list[Entry] = []
    entry: Entry | None = None
    current: tuple[str, int] | None = None
    rows = text.splitlines()
    for number, raw in enumerate(rows):
        line = raw.strip()
        if not line:
            current = None
            continue
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if not line:
                continue
        is_comment = line.startswith("#")
        is_keyword = re.match(r"^(msgctxt|msgid|msgid_plural|msgstr(\[\d+\])?)\s", line)
        starts_entry = (
            is_comment or (is_keyword and line.split()[0] in ("msgctxt", "msgid"))
        ) and (entry is None or entry.msgstr)
        if starts_entry:
            entry = Entry(lines=(number, number))
            entries.append(entry)
        if entry is None:
            continue
        entry.lines = (entry.lines[0], number)
        entry.obsolete = entry.obsolete or obsolete
        if is_comment:
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if match:
            keyword, index, value = match.group(1), match.group(2), _unquote(match.group(3))
            if keyword == "msgctxt":
                entry.msgctxt, current = value, ("msgctxt", 0)
            elif keyword == "msgid":
                entry.msgid, current = value, ("msgid", 0)
            elif keyword == "msgid_plural":
                entry.msgid_plural, current = value, ("msgid_plural", 0)
            else:
                index_number = int(index) if index is not None else 0
                entry.msgstr[index_number], current = value, ("msgstr", index_number)
        elif line.startswith('"') and current is not None:
            value = _unquote(line)
            name, index_number = current
            if name == "msgstr":
                entry.msgstr[index_number] += value
            elif name == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + value
            elif name == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + value
            else:
                entry.msgid += value
    return entries


def messages(entries: list[Entry]) -> set[tuple]:
    return {e.key for e in entries if e.msgid and not e.obsolete}


def app_folders(names: list[str]) -> list[Path]:
    folders = sorted(p.parent for p in PACKAGE.glob("*/locale") if p.is_dir())
    if names:
        folders = [f for f in folders if f.name in names]
    return folders


def regenerate(app: Path, workdir: Path) -> Path:
    """Run makemessages on a copy of ``app``; returns the regenerated PO file."""
    copy = workdir / app.name
    shutil.copytree(app, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="vrop.settings",
        VROP_DATA_DIR=str(workdir / "data"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "-P", "-m", "django", "makemessages", "-l", "ru", "--no-location"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return copy / PO_PATH


def check_app(app: Path, workdir: Path) -> list[str]:
    problems: list[str] = []
    po_file = app / PO_PATH
    name = app.name
    if not po_file.exists():
        return [f"{name}: {PO_PATH} is missing"]
    current = parse_po(po_file.read_text(encoding="utf-8"))
    try:
        regenerated = parse_po(regenerate(app, workdir).read_text(encoding="utf-8"))
    except subprocess.CalledProcessError as error:
        return [f"{name}: makemessages failed: {error.stderr.strip()}"]
    added = messages(regenerated) - messages(current)
    removed = messages(current) - messages(regenerated)
    for key in sorted(added, key=str):
        problems.append(f"{name}: not in the catalogue (run makemessages): {key[1]!r}")
    for key in sorted(removed, key=str):
        problems.append(f"{name}: no longer in the code (run makemessages): {key[1]!r}")
    for entry in current:
        if not entry.msgid or entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"{name}: fuzzy translation: {entry.msgid!r}")
        if not entry.msgstr or any(not text for text in entry.msgstr.values()):
            problems.append(f"{name}: not translated: {entry.msgid!r}")
    compiled = workdir / f"{name}.mo"
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(po_file)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        problems.append(f"{name}: msgfmt --check-format: {result.stderr.strip()}")
    else:
        mo_file = po_file.with_suffix(".mo")
        if not mo_file.exists() or mo_file.read_bytes() != compiled.read_bytes():
            problems.append(f"{name}: {mo_file.relative_to(ROOT)} is stale: run compilemessages")
    return problems


def main(argv: list[str]) -> int:
    if shutil.which("msgfmt") is None:
        print("i18n check: msgfmt not found (install gettext)", file=sys.stderr)
        return 2
    folders = app_folders(argv)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vrop-i18n-") as tmp:
        for app in folders:
            problems += check_app(app, Path(tmp))
    for problem in problems:
        print(problem)
    print(f"i18n check: {len(folders)} catalogues, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
