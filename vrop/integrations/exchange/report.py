"""What an import did, or why it did nothing: per-file counts and the bad rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

MAX_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    reason: str
    column: str = ""

    def render(self) -> str:
        if self.line:
            return _("%(file)s, line %(line)s: %(reason)s") % {
                "file": self.file,
                "line": self.line,
                "reason": self.reason,
            }
        return _("%(file)s: %(reason)s") % {"file": self.file, "reason": self.reason}


@dataclass
class FileCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


@dataclass
class ImportReport:
    path: str = ""
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    counts: dict[str, FileCounts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    flagged_deals: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.errors_total == 0

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def rows(self) -> int:
        return sum(counts.rows for counts in self.counts.values())

    def error(self, file: str, line: int, reason: str, column: str = "") -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file, line, str(reason), column))

    def file(self, name: str) -> FileCounts:
        return self.counts.setdefault(name, FileCounts())

    def render(self) -> str:
        lines: list[str] = []
        for name, counts in self.counts.items():
            text = _(
                "%(file)s: %(rows)s rows — created %(created)s, updated %(updated)s, "
                "unchanged %(unchanged)s"
            ) % {"file": name, **counts.as_dict()}
            if counts.deleted:
                text += _(", replaced %(deleted)s") % {"deleted": counts.deleted}
            lines.append(text)
        lines.extend(self.warnings)
        for error in self.errors:
            lines.append(error.render())
        if self.errors_total > len(self.errors):
            more = self.errors_total - len(self.errors)
            lines.append(
                ngettext("… and %(count)s more error.", "… and %(count)s more errors.", more)
                % {"count": more}
            )
        if not self.ok:
            lines.append(
                ngettext(
                    "%(count)s error: nothing was imported. Fix the file and import again.",
                    "%(count)s errors: nothing was imported. Fix the files and import again.",
                    self.errors_total,
                )
                % {"count": self.errors_total}
            )
        elif self.dry_run:
            lines.append(_("Check only: no errors, nothing was written."))
        else:
            if self.flagged_deals:
                lines.append(
                    ngettext(
                        "%(count)s deal breaks the rules and is flagged.",
                        "%(count)s deals break the rules and are flagged.",
                        self.flagged_deals,
                    )
                    % {"count": self.flagged_deals}
                )
            lines.append(
                _("Imported %(rows)s rows in %(seconds).1f s.")
                % {"rows": self.rows, "seconds": self.seconds}
            )
        return "\n".join(lines)
