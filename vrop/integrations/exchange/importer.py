"""``import_path``: load a folder or .zip in the exchange format, all or nothing.

The importer is the service for bulk writes. In one transaction it streams every file
in the order of ``spec.FILES``, checks each row (types, required values, choices, INN,
dates), loads the good rows into a temporary staging table (COPY on PostgreSQL), checks
the references in SQL, and merges set-based into the real tables: rows that differ are
updated, new ids are inserted, equal rows are left alone (new deals are held in a
temporary table until their derived fields are known and then written once,
``staged``). Then it recomputes, in SQL, every denormalised field the services keep
(``derive``), runs the rules of every event an imported deal went through in flag mode
(``flag_events``), storing violations in ``Deal.flags``, and writes the simple-history
rows of what it created or changed (``history``). Any bad row anywhere rolls the whole transaction back: nothing of that
import is written, and the report names each bad row with its file, line and reason.

Memory stays flat in the size of the files: rows are streamed in batches; Python keeps
only the ids of users and of refused rows. On PostgreSQL a thread parses the next files
into temporary files while the server merges the previous ones (``pipeline``).
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call
from vrop.core import rulebook
from vrop.core.policy import company_settings
from vrop.crm.choices import Stage
from vrop.crm.models import Client, Deal, DealLine, Product, StageChange, Task
from vrop.discipline.worktime import refresh_response_times
from vrop.integrations.exchange import derive, history, spec
from vrop.integrations.exchange.entities import (
    ENTITIES,
    MOVED,
    PAID,
    TOUCHED,
    TOUCHED_INVOICES,
    EntityLoader,
)
from vrop.integrations.exchange.indexes import IndexRebuild
from vrop.integrations.exchange.lists import DealListLoader
from vrop.integrations.exchange.pipeline import DirectSink, FileSink, Parsed, Prefetcher
from vrop.integrations.exchange.reader import CsvFile, Source, SourceError
from vrop.integrations.exchange.references import ReferenceLedger
from vrop.integrations.exchange.report import ImportReport
from vrop.integrations.exchange.sql import Dialect, qn
from vrop.integrations.exchange.staged import NEW_DEALS, NEW_FACTS, NEW_INVOICES, StagedDeal
from vrop.integrations.exchange.values import Problem, parser_for
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment
from vrop.receivables.services.documents import deals_paid_on_refresh


def import_path(path: Path, *, dry_run: bool = False) -> ImportReport:
    """Import a folder or a .zip in the exchange format (see docs/exchange-format.md).

    Returns the report; ``report.ok`` is False when any row is bad, and then nothing
    was written. ``dry_run`` checks everything and reports what would change, and
    writes nothing.
    """
    started = time.monotonic()
    report = ImportReport(path=str(path), dry_run=dry_run)
    try:
        source = Source(Path(path))
    except SourceError:
        report.error(
            str(path), 0, _("“%(path)s” is neither a folder nor a .zip file.") % {"path": path}
        )
        return report
    with source:
        missing = [name for name in spec.REQUIRED_FILES if not source.has(name)]
        for name in missing:
            report.error(name, 0, _("The file %(file)s is required.") % {"file": name})
        if missing:
            return report
        with _temp_store_on_disk(), transaction.atomic():
            importer = Importer(source, report)
            try:
                importer.run()
            finally:
                importer.sql.drop_temps()
            if not report.ok or dry_run:
                transaction.set_rollback(True)
    report.seconds = time.monotonic() - started
    return report


@contextmanager
def _temp_store_on_disk():
    """SQLite: staging tables in temporary files, not in memory (the project's settings
    keep temporary tables in memory), so that memory stays flat in the size of the
    import. Only possible outside a transaction; inside one the setting stays."""
    vendor_sqlite = connection.vendor == "sqlite" and not connection.in_atomic_block
    if not vendor_sqlite:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA temp_store")
        previous = cursor.fetchone()[0]
        cursor.execute("PRAGMA temp_store = FILE")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA temp_store = {int(previous)}")


# what each file writes (for the statistics after a large import)
WRITTEN = {
    "clients.csv": Client,
    "products.csv": Product,
    "deals.csv": Deal,
    "deal_lines.csv": DealLine,
    "stage_changes.csv": StageChange,
    "tasks.csv": Task,
    "invoices.csv": Invoice,
    "payments.csv": Payment,
    "shipments.csv": Shipment,
    "calls.csv": Call,
}


def _row_checks(file: str, parsed: dict) -> None:
    """Checks across the columns of one row."""
    if file == "invoices.csv" and parsed.get("due_on") and parsed["due_on"] < parsed["issued_on"]:
        raise Problem(_("The due date is before the invoice date."))
    if file == "plans.csv" and parsed["period_end"] < parsed["period_start"]:
        raise Problem(_("The period ends before it starts."))
    if file == "plans.csv" and parsed["manager_id"] is not None and parsed["team"]:
        raise Problem(_("A plan is for a manager, a team or the whole company, not both."))


def flag_events(deals) -> list[tuple[str, object]]:
    """``(event, objects)`` for every rule event that imported deals went through: what
    the services check on each step of a deal, here in flag mode (the services refuse).
    The objects are deals, or the deals' shipments for ``shipment.create``. ``deal.save``
    comes last, so that its messages are kept where two events flag the same thing (e.g.
    a won deal whose prices needed approval)."""
    invoiced = Exists(Invoice.objects.filter(deal_id=OuterRef("pk")))
    return [
        ("deal.lines", deals),
        ("deal.quote", deals.filter(stage=Stage.QUOTE)),
        ("deal.won", deals.filter(stage=Stage.WON)),
        ("deal.invoice", deals.filter(invoiced)),
        ("shipment.create", Shipment.objects.filter(deal__in=deals.values("pk"))),
        ("deal.save", deals),
    ]


class Importer(EntityLoader, DealListLoader):
    def __init__(self, source: Source, report: ImportReport) -> None:
        self.source = source
        self.report = report
        self.sql = Dialect(connection)
        self.refs = ReferenceLedger(self.sql)
        # a dry run writes nothing for good: no table locked for it
        self.indexes = IndexRebuild(self.sql, enabled=not report.dry_run)
        self.tz = ZoneInfo(company_settings().time_zone or "Europe/Moscow")
        self.now = timezone.now()
        self.user_ids: dict[str, int | None] = {}
        self.rejected: dict[str, set[str]] = defaultdict(set)
        self.staged: dict[str, str] = {}  # file -> its staging table ("" if none)
        self.failed: set[str] = set()  # files refused as a whole (header, encoding)
        self.new_deals = 0  # deals of deals.csv not in the database yet (``staged``)
        self.new_deals_written = False
        self.new_invoices = 0  # invoices of invoices.csv held until their payments are in
        self.new_invoice_insert: tuple[str, list] | None = None
        self.prefetcher: Prefetcher | None = None
        self.analyzed: set[str] = set()
        self.users_by_id: dict[tuple[str, str], int] = {}
        self.app_users: set[int] = set()

    # --- the run -------------------------------------------------------------------------

    def run(self) -> None:
        self.sql.tune_session()
        self.refs.start()
        for table in (TOUCHED, TOUCHED_INVOICES, MOVED, PAID):
            self.sql.create_temp(table, [("pk", "bigint")])
        try:
            for file in spec.FILES:
                if self.source.has(file):
                    if file == "managers.csv":
                        self.load_managers()
                    elif file == "plans.csv":
                        self.load_plans()
                    else:
                        parsed = self.parsed(file)
                        if parsed.rows is None:
                            parsed.sink.apply(self.report, self.rejected[file], self.failed)
                        elif file == "deal_lines.csv":
                            self.load_lines(parsed)
                        elif file == "stage_changes.csv":
                            self.load_stage_changes(parsed)
                        else:
                            self.load_entity(ENTITIES[file], parsed)
                if file == "managers.csv":
                    self.load_users()
                    self.start_parsing()
                self.after(file)
        finally:
            if self.prefetcher is not None:
                self.prefetcher.close()
        self.refresh_statistics()
        self.derive_deals()
        self.deal_facts()
        self.write_new_deals()
        if self.report.ok:
            self.refresh_statistics()
            self.flag_deals()
            created = f"(SELECT id FROM {qn(NEW_DEALS)})" if self.new_deals else history.NONE
            with (
                self.refs.keys_kept(),  # history rows: no user, no other constraint
                # the bulk of a first load: the new deals' rows (an unchanged deal gets none)
                self.indexes.inserting([Deal.history.model], self.new_deals),
            ):
                history.write(self.sql, Deal, f"(SELECT pk FROM {qn(TOUCHED)})", self.now, created)
        if self.report.ok:
            for table, count, examples in self.refs.verify():
                self.report.error(
                    Path(self.report.path).name, 0, ReferenceLedger.message(table, count, examples)
                )

    # --- parsing ahead (``pipeline``) ---------------------------------------------------

    # files parsed into a staging table (the others are parsed as they load)
    STAGED_FILES = tuple(f for f in spec.FILES if f not in ("managers.csv", "plans.csv"))

    def start_parsing(self) -> None:
        """PostgreSQL: parse the staged files ahead, in a thread (two cores: the server
        merges a file while the next ones are parsed). SQLite runs in this process, so
        there is nothing to overlap: files are parsed as they load."""
        if self.sql.is_postgres:
            files = [f for f in self.STAGED_FILES if self.source.has(f)]
            self.prefetcher = Prefetcher(self.parse, files)

    def parsed(self, file: str) -> Parsed:
        if self.prefetcher is not None:
            return self.prefetcher.get(file)
        return self.parse(file, FileSink(file))

    def parse(self, file: str, sink: FileSink) -> Parsed:
        """A staged file's rows, to be loaded (no database access here)."""
        if file == "deal_lines.csv":
            return self.parse_lines(sink)
        if file == "stage_changes.csv":
            return self.parse_stage_changes(sink)
        return self.parse_entity(ENTITIES[file], sink)

    def stage(self, parsed: Parsed) -> int:
        """Fill a file's staging table with its parsed rows and hand what parsing found
        to the report; returns the number of rows."""
        sql = self.sql
        sql.create_temp(parsed.table, parsed.columns)
        names = [name for name, _kind in parsed.columns]
        if parsed.spool is not None:
            sql.copy_text(parsed.table, names, parsed.spool.chunks())
            parsed.spool.wait()
            count = parsed.count
        else:
            count = sql.load(parsed.table, names, parsed.rows())
        parsed.sink.apply(self.report, self.rejected[parsed.file], self.failed)
        return count

    def direct_sink(self, file: str) -> DirectSink:
        return DirectSink(file, self.report, self.rejected[file], self.failed)

    def refresh_statistics(self) -> None:
        """Statistics of the tables this import filled a large share of (PostgreSQL)."""
        for file, model in WRITTEN.items():
            table = model._meta.db_table
            if table in self.analyzed:
                continue
            counts = self.report.counts.get(file)
            written = counts.created if counts else 0
            if model is StageChange and "deals.csv" in self.report.counts:
                written += self.report.counts["deals.csv"].created  # the completed history
            if model is Deal and self.new_deals and not self.new_deals_written:
                continue
            if self.sql.refresh_statistics(model, written):
                self.analyzed.add(table)

    def deal_tables(self) -> list[str]:
        """Where the deals are while the files load: the database, and the new ones."""
        return ["crm_deal", qn(NEW_DEALS)] if self.new_deals else ["crm_deal"]

    def derive_deals(self) -> None:
        """The derived fields of the touched deals; existing deals whose moments (first
        contact, quote) change are noted for their response times."""
        sql = self.sql
        existing = f"(SELECT pk FROM {qn(TOUCHED)})"
        if self.new_deals:
            existing = (
                f"(SELECT pk FROM {qn(TOUCHED)} WHERE pk NOT IN (SELECT id FROM {qn(NEW_DEALS)}))"
            )
            self.derive_new_deals()
        moment = sql.field_type(Deal._meta.get_field("first_contact_at"))
        before = "exch_moments"
        sql.create_temp(
            before, [("pk", "bigint"), ("first_contact_at", moment), ("quote_sent_at", moment)]
        )
        sql.execute(
            f"INSERT INTO {qn(before)} (pk, first_contact_at, quote_sent_at) "
            f"SELECT id, first_contact_at, quote_sent_at FROM crm_deal WHERE id IN {existing}"
        )
        if not derive.deal_fields(sql, existing):
            return
        self.touch(
            MOVED,
            f"SELECT b.pk FROM {qn(before)} b JOIN crm_deal d ON d.id = b.pk "
            f"WHERE {sql.distinct('d.first_contact_at', 'b.first_contact_at')} "
            f"OR {sql.distinct('d.quote_sent_at', 'b.quote_sent_at')}",
        )

    def derive_new_deals(self) -> None:
        """The derived fields of the new deals into the narrow ``NEW_FACTS`` (with the
        columns the facts are computed from and into)."""
        sql = self.sql
        meta = Deal._meta
        derived = list(derive.DEAL_FIELDS)
        facts = ["first_contact_work_seconds", "quote_work_seconds", "paid_on"]
        names = ["id", "received_at", *derived, *facts]
        sql.create_temp(NEW_FACTS, [(name, sql.field_type(meta.get_field(name))) for name in names])
        values = derive.deal_field_values(qn(NEW_DEALS), f"(SELECT id FROM {qn(NEW_DEALS)})")
        sql.execute(
            f"INSERT INTO {qn(NEW_FACTS)} ({', '.join(names)}) "
            f"SELECT x.id, n.received_at, {', '.join('x.' + name for name in derived)}, "
            f"NULL, NULL, NULL FROM ({values}) x JOIN {qn(NEW_DEALS)} n ON n.id = x.id"
        )
        sql.analyze(NEW_FACTS, "id", "first_contact_at", "quote_sent_at")

    def deal_facts(self) -> None:
        """The facts the deal keeps for the numbers (response times, fully paid day), each
        by its one function, only for the deals whose inputs changed: existing deals whose
        arrival, first contact or quote moved, or whose invoices changed; new deals (not
        written yet, see ``staged``) that have a first contact or quote, or invoices."""
        moved = RawSQL(f"SELECT pk FROM {qn(MOVED)}", [])
        paid = RawSQL(f"SELECT pk FROM {qn(PAID)}", [])
        if self.sql.fetchone(f"SELECT COUNT(*) FROM {qn(MOVED)}")[0]:
            refresh_response_times(Deal.objects.filter(pk__in=moved))
        if self.new_deals:
            refresh_response_times(
                StagedDeal.objects.filter(
                    Q(first_contact_at__isnull=False) | Q(quote_sent_at__isnull=False)
                )
            )
        if self.sql.fetchone(f"SELECT COUNT(*) FROM {qn(PAID)}")[0]:
            deals_paid_on_refresh(Deal.objects.filter(pk__in=paid))
            if self.new_deals:
                deals_paid_on_refresh(StagedDeal.objects.filter(pk__in=paid))

    def after(self, file: str) -> None:
        """Keep what later files depend on once the files it depends on are loaded."""
        staged = self.staged
        if file == "stage_changes.csv" and "deals.csv" in staged:
            derive.deal_history_complete(
                self.sql,
                staged["deals.csv"],
                "exch_stage_deals" if file in staged else None,
                self.now,
                self.deal_tables(),
            )
        elif file == "payments.csv" and ("invoices.csv" in staged or file in staged):
            self.invoices_paid()
            self.write_new_invoices()

    def invoices_paid(self) -> None:
        """What the payments paid of the invoices in the database they touch (the new
        invoices get theirs in ``write_new_invoices``); their deals' fully paid day."""
        sql = self.sql
        before = "exch_invoices_paid"
        day = sql.field_type(Invoice._meta.get_field("paid_on"))
        sql.create_temp(before, [("pk", "bigint"), ("paid_on", day)])
        invoices = qn(Invoice._meta.db_table)
        touched = f"(SELECT pk FROM {qn(TOUCHED_INVOICES)}"
        if self.new_invoices:
            touched += f" WHERE pk NOT IN (SELECT id FROM {qn(NEW_INVOICES)})"
        touched += ")"
        sql.execute(
            f"INSERT INTO {qn(before)} (pk, paid_on) SELECT id, paid_on FROM {invoices} "
            f"WHERE id IN {touched}"
        )
        if derive.invoice_payments(sql, touched, self.now):
            # the deals whose invoices became paid (or unpaid) on another day
            self.touch(
                PAID,
                f"SELECT i.deal_id AS pk FROM {qn(before)} b JOIN {invoices} i ON i.id = b.pk "
                f"WHERE {sql.distinct('i.paid_on', 'b.paid_on')}",
            )

    def touch(self, table: str, select: str) -> None:
        """Add the ids that ``select`` returns to a set of touched objects."""
        self.sql.execute(
            f"INSERT INTO {qn(table)} (pk) SELECT DISTINCT x.pk FROM ({select}) x "
            f"WHERE x.pk IS NOT NULL AND x.pk NOT IN (SELECT pk FROM {qn(table)})"
        )
        self.sql.analyze(table)

    # --- reading -------------------------------------------------------------------------

    def open_csv(self, file: str, sink: FileSink):
        """The file with its column positions and unknown columns, or None if unusable."""
        columns = spec.COLUMNS[file]
        known = [column.name for column in columns]
        try:
            reader = CsvFile(self.source, file, known)
        except (UnicodeDecodeError, csv.Error):
            sink.error(file, 1, _("The file is neither UTF-8 nor CP1251 CSV text."))
            sink.fail()
            return None
        positions: dict[str, int] = {}
        unknown: list[tuple[int, str]] = []
        ok = True
        for index, name in enumerate(reader.header):
            low = name.lower()
            if low in known:
                if low in positions:
                    sink.error(
                        file,
                        reader.header_line,
                        _("The column “%(column)s” appears twice.") % {"column": name},
                    )
                    ok = False
                positions[low] = index
            elif name:
                unknown.append((index, name))
        for column in columns:
            if column.required and column.name not in positions:
                sink.error(
                    file,
                    reader.header_line,
                    _("The column “%(column)s” is missing.") % {"column": column.name},
                )
                ok = False
        if not ok:
            reader.close()
            sink.fail()
            return None
        return reader, positions, unknown

    def parsed_rows(
        self, file: str, reader: CsvFile, positions: dict[str, int], unknown: list, sink: FileSink
    ) -> Iterator[tuple[int, dict, dict | None]]:
        """Good rows as ``(line, values, extra)``; bad ones go to the sink (the report).
        No database access: this may run in the parsing thread (``pipeline``)."""
        report = sink
        counts = sink.file_counts()
        columns = [
            (column, positions.get(column.name), parser_for(column, self.tz))
            for column in spec.COLUMNS[file]
        ]
        users = [column.name for column in spec.COLUMNS[file] if column.kind == spec.USER]
        width = len(reader.header)
        id_index = positions.get("id")
        try:
            for line, values in reader.rows():
                counts.rows += 1
                size = len(values)
                if size > width and any(value.strip() for value in values[width:]):
                    report.error(
                        file,
                        line,
                        _("The row has %(count)s values, but the header has %(columns)s.")
                        % {"count": size, "columns": width},
                    )
                    self._reject(sink, values, id_index)
                    continue
                parsed = {}
                bad = False
                for column, index, parse in columns:
                    raw = values[index] if index is not None and index < size else ""
                    try:
                        parsed[column.name] = parse(raw)
                    except Problem as problem:
                        report.error(file, line, str(problem), column.name)
                        bad = True
                if not bad:
                    for name in users:
                        ref = parsed[name]
                        if ref is None:
                            continue
                        pk = self.user_pk(ref)
                        if pk is None:
                            bad = True
                            if (
                                ref not in self.rejected["managers.csv"]
                                and "managers.csv" not in self.failed
                            ):
                                report.error(
                                    file,
                                    line,
                                    _(
                                        "Unknown %(column)s “%(value)s”: there is no such id "
                                        "in %(file)s or in the database."
                                    )
                                    % {"column": name, "value": ref, "file": "managers.csv"},
                                    name,
                                )
                        parsed[name] = pk
                if not bad:
                    try:
                        _row_checks(file, parsed)
                    except Problem as problem:
                        report.error(file, line, str(problem))
                        bad = True
                if bad:
                    self._reject(sink, values, id_index)
                    continue
                extra = (
                    {name: (values[index] if index < size else "") for index, name in unknown}
                    if unknown
                    else None
                )
                yield line, parsed, extra
        except UnicodeDecodeError:
            report.error(
                file, reader.failed_line, _("The file is neither UTF-8 nor CP1251 CSV text.")
            )
        except csv.Error as error:
            report.error(
                file, reader.failed_line, _("The CSV cannot be read: %(error)s") % {"error": error}
            )
        finally:
            reader.close()

    @staticmethod
    def _reject(sink: FileSink, values: list[str], id_index: int | None) -> None:
        if id_index is not None and id_index < len(values):
            sink.reject(values[id_index].strip())

    # --- users ---------------------------------------------------------------------------

    def load_users(self) -> None:
        """The ids of the users in the database, for ``user_pk`` (after managers.csv)."""
        self.users_by_id = {}
        self.app_users = set()
        for pk, source, external_id in User.objects.values_list("pk", "source", "external_id"):
            if external_id:
                self.users_by_id[(source, external_id)] = pk
            else:
                self.app_users.add(pk)

    def user_pk(self, ref: str) -> int | None:
        """A user by the id of managers.csv, or by an id already in the database (read by
        ``load_users``: no database access here)."""
        if ref in self.user_ids:
            return self.user_ids[ref]
        pk = self.users_by_id.get((spec.SOURCE, ref))
        if pk is None:
            parsed = spec.parse_id(ref)
            if parsed.app_pk is not None:
                pk = parsed.app_pk if parsed.app_pk in self.app_users else None
            elif parsed.other_source:
                pk = self.users_by_id.get((parsed.other_source, parsed.other_id))
        self.user_ids[ref] = pk
        return pk

    def load_managers(self) -> None:
        file = "managers.csv"
        sink = self.direct_sink(file)
        opened = self.open_csv(file, sink)
        if opened is None:
            return
        counts = self.report.file(file)
        self.staged[file] = ""
        by_email: dict[str, User] = {u.email.lower(): u for u in User.objects.all()}
        teams: dict[str, Team | None] = {}
        seen_ids: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        today = timezone.localdate()
        for line, row, extra in self.parsed_rows(file, *opened, sink):
            ident, email = row["id"], row["email"]
            if ident in seen_ids:
                self._duplicate(file, line, ident, seen_ids[ident])
                continue
            if email in seen_emails:
                self.report.error(
                    file,
                    line,
                    _("The e-mail “%(email)s” is repeated (first on line %(line)s).")
                    % {"email": email, "line": seen_emails[email]},
                )
                self.rejected[file].add(ident)
                continue
            seen_ids[ident], seen_emails[email] = line, line
            team_name = row["team"] or ""
            if team_name and team_name not in teams:
                teams[team_name] = Team.objects.get_or_create(name=team_name)[0]
            first, _sep, last = (row["name"] or "").partition(" ")
            wanted = {
                "first_name": first.strip()[:150],
                "last_name": last.strip()[:150],
                "role": row["role"] or "manager",
                "team_id": teams[team_name].pk if team_name else None,
                "hired_on": row["hired_on"],
                "left_on": row["left_on"],
                "is_active": row["left_on"] is None or row["left_on"] > today,
            }
            user = by_email.get(email)
            if user is None:
                user = User(email=email, username=email, source=spec.SOURCE, external_id=ident)
                user.set_unusable_password()
                for name, value in wanted.items():
                    setattr(user, name, value)
                user.extra = extra or {}
                user.save()
                by_email[email] = user
                counts.created += 1
            else:
                changed = [name for name, value in wanted.items() if getattr(user, name) != value]
                if not self._same_object(user, ident) and user.source in ("", spec.SOURCE):
                    if (user.source, user.external_id) != (spec.SOURCE, ident):
                        user.source, user.external_id = spec.SOURCE, ident
                        changed += ["source", "external_id"]
                if extra:
                    merged = {**(user.extra or {}), **extra}
                    if merged != user.extra:
                        user.extra = merged
                        changed.append("extra")
                if changed:
                    for name, value in wanted.items():
                        setattr(user, name, value)
                    user.save(update_fields=sorted({n.removesuffix("_id") for n in changed}))
                    counts.updated += 1
                else:
                    counts.unchanged += 1
            self.user_ids[ident] = user.pk

    @staticmethod
    def _same_object(obj, ident: str) -> bool:
        """Whether ``ident`` already names ``obj`` by the id rules."""
        if obj.source == spec.SOURCE and obj.external_id == ident:
            return True
        parsed = spec.parse_id(ident)
        if parsed.app_pk is not None:
            return parsed.app_pk == obj.pk and obj.external_id == ""
        if parsed.other_source:
            return (obj.source, obj.external_id) == (parsed.other_source, parsed.other_id)
        return False

    def _duplicate(self, file: str, line: int, ident: str, first: int) -> None:
        self.report.error(
            file,
            line,
            _("The id “%(id)s” is repeated (first on line %(line)s).")
            % {"id": ident, "line": first},
        )

    # --- plans ---------------------------------------------------------------------------

    def load_plans(self) -> None:
        file = "plans.csv"
        sink = self.direct_sink(file)
        opened = self.open_csv(file, sink)
        if opened is None:
            return
        counts = self.report.file(file)
        self.staged[file] = ""
        existing = {
            (p.period_start, p.period_end, p.metric, p.manager_id, p.team_id): p
            for p in Plan.objects.all()
        }
        teams = dict(Team.objects.values_list("name", "pk"))
        seen: dict[tuple, int] = {}
        for line, row, extra in self.parsed_rows(file, *opened, sink):
            team_id = None
            if row["team"]:
                team_id = teams.get(row["team"])
                if team_id is None:
                    self.report.error(
                        file,
                        line,
                        _(
                            "Unknown team “%(team)s”: no manager in managers.csv or in the "
                            "database belongs to it."
                        )
                        % {"team": row["team"]},
                        "team",
                    )
                    continue
            key = (
                row["period_start"],
                row["period_end"],
                row["metric"],
                row["manager_id"],
                team_id,
            )
            if key in seen:
                self.report.error(
                    file,
                    line,
                    _("This plan is repeated (first on line %(line)s).") % {"line": seen[key]},
                )
                continue
            seen[key] = line
            plan = existing.get(key)
            if plan is None:
                Plan.objects.create(
                    period_start=key[0],
                    period_end=key[1],
                    metric=key[2],
                    manager_id=key[3],
                    team_id=key[4],
                    target=row["target"],
                    extra=extra or {},
                )
                counts.created += 1
                continue
            merged = {**(plan.extra or {}), **(extra or {})}
            if plan.target != row["target"] or merged != (plan.extra or {}):
                Plan.objects.filter(pk=plan.pk).update(target=row["target"], extra=merged)
                counts.updated += 1
            else:
                counts.unchanged += 1

    def flag_deals(self) -> None:
        """Run the rules of every event an imported deal went through, in flag mode
        (``rulebook.evaluate_bulk_events``); store what they flag in the deals' ``flags``."""
        deals = Deal.objects.filter(pk__in=RawSQL(f"SELECT pk FROM {qn(TOUCHED)}", ()))
        flags: dict[int, dict[str, str]] = defaultdict(dict)
        events = flag_events(deals)
        for (_event, objects), found in zip(
            events, rulebook.evaluate_bulk_events(events), strict=True
        ):
            deal_of = {pk: pk for pk in found}
            if objects.model is not Deal:
                keys = sorted(found)
                for start in range(0, len(keys), 5000):
                    chunk = keys[start : start + 5000]
                    deal_of.update(objects.filter(pk__in=chunk).values_list("pk", "deal_id"))
            for pk, violations in found.items():
                for violation in violations:
                    flags[deal_of[pk]][violation.code] = str(violation.message)
        violations = flags
        sql = self.sql
        flags_table = "exch_flags"
        sql.create_temp(flags_table, [("pk", "bigint"), ("flags", sql.json_type)])
        rows = [(pk, json.dumps(found)) for pk, found in violations.items() if found]
        sql.load(flags_table, ["pk", "flags"], rows)
        self.report.flagged_deals = len(rows)
        f = qn(flags_table)
        empty = sql.json_literal({})
        with self.refs.keys_kept():  # only the flags
            sql.execute(
                f"UPDATE crm_deal SET flags = x.flags FROM {f} x "
                f"WHERE crm_deal.id = x.pk AND {sql.distinct('crm_deal.flags', 'x.flags')}"
            )
            sql.execute(
                f"UPDATE crm_deal SET flags = {empty} WHERE id IN (SELECT pk FROM {qn(TOUCHED)}) "
                f"AND id NOT IN (SELECT pk FROM {f}) AND {sql.distinct('flags', empty)}"
            )
