"""``import_path``: load a folder or .zip in the exchange format, all or nothing.

The importer is the service for bulk writes. In one transaction it streams every file
in the order of ``spec.FILES``, checks each row (types, required values, choices, INN,
dates), loads the good rows into a temporary staging table (COPY on PostgreSQL), checks
the references in SQL, and merges set-based into the real tables: rows that differ are
updated, new ids are inserted, equal rows are left alone. Then it recomputes, in SQL,
every denormalised field the services keep (``derive``), and runs the rules of
``deal.save`` in flag mode over the imported deals, storing violations in
``Deal.flags``. Any bad row anywhere rolls the whole transaction back: nothing of that
import is written, and the report names each bad row with its file, line and reason.

Memory stays flat in the size of the files: rows are streamed in batches; Python keeps
only the ids of managers and of refused rows.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call
from vrop.core import rulebook
from vrop.core.policy import company_settings
from vrop.crm.models import Client, Deal, DealLine, Product, StageChange, Task
from vrop.integrations.exchange import derive, spec
from vrop.integrations.exchange.reader import CsvFile, Source, SourceError
from vrop.integrations.exchange.report import ImportReport
from vrop.integrations.exchange.sql import Dialect, qn
from vrop.integrations.exchange.values import Problem, parser_for
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

TOUCHED = "exch_touched_deals"
TOUCHED_INVOICES = "exch_touched_invoices"


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


@dataclass(frozen=True)
class Entity:
    """A file whose rows are objects with ids, merged by a generic staging pass."""

    file: str
    model: type
    fields: dict[str, str]  # column -> model field (the value as parsed)
    refs: dict[str, str] = field(default_factory=dict)  # REF column -> foreign key field
    users: dict[str, str] = field(default_factory=dict)  # USER column -> foreign key field
    derived: tuple[str, ...] = ()  # model fields filled in staging by ``prepare``
    computed: tuple[str, ...] = ()  # model fields computed per row in Python
    insert_exprs: dict[str, str] = field(default_factory=dict)  # field -> SQL over ``s``
    update_exprs: dict[str, str] = field(default_factory=dict)  # field -> SQL ({t}: table)


ENTITIES: dict[str, Entity] = {
    "clients.csv": Entity(
        "clients.csv",
        Client,
        fields={
            "name": "name",
            "inn": "inn",
            "segment": "segment",
            "payment_terms_days": "payment_terms_days",
            "credit_limit": "credit_limit",
        },
        users={"manager_id": "manager"},
    ),
    "products.csv": Entity(
        "products.csv",
        Product,
        fields={
            "name": "name",
            "category": "category",
            "unit": "unit",
            "cost_price": "cost_price",
            "list_price": "list_price",
        },
    ),
    "deals.csv": Entity(
        "deals.csv",
        Deal,
        fields={
            "channel": "channel",
            "received_at": "received_at",
            "stage": "stage",
            "lost_reason": "lost_reason",
            "amount": "amount",
        },
        refs={"client_id": "client"},
        users={"manager_id": "manager"},
        insert_exprs={"stage_changed_at": "s.received_at"},
        # A deal with lines takes its amount from them, not from the column.
        update_exprs={
            "amount": (
                "CASE WHEN EXISTS (SELECT 1 FROM crm_dealline l WHERE l.deal_id = {t}.id) "
                "THEN {t}.amount ELSE s.amount END"
            )
        },
    ),
    "tasks.csv": Entity(
        "tasks.csv",
        Task,
        fields={"title": "title", "due_at": "due_at", "done_at": "done_at"},
        refs={"deal_id": "deal"},
        users={"manager_id": "manager"},
        derived=("client",),
    ),
    "invoices.csv": Entity(
        "invoices.csv",
        Invoice,
        fields={
            "number": "number",
            "issued_on": "issued_on",
            "due_on": "due_on",
            "amount": "amount",
        },
        refs={"deal_id": "deal"},
        derived=("client", "manager"),
    ),
    "payments.csv": Entity(
        "payments.csv",
        Payment,
        fields={"paid_on": "paid_on", "amount": "amount"},
        refs={"invoice_id": "invoice"},
        derived=("client",),
    ),
    "shipments.csv": Entity(
        "shipments.csv",
        Shipment,
        fields={"shipped_on": "shipped_on", "amount": "amount", "cost": "cost"},
        refs={"deal_id": "deal"},
        derived=("client", "manager", "volume", "is_deferred"),
    ),
    "calls.csv": Entity(
        "calls.csv",
        Call,
        fields={
            "started_at": "started_at",
            "direction": "direction",
            "duration_s": "duration_s",
            "recording": "recording",
            "transcript": "transcript_path",
        },
        refs={"deal_id": "deal"},
        users={"manager_id": "manager"},
        derived=("client",),
        computed=("transcript",),
    ),
}

REF_SUFFIXES = ("__ref", "__app", "__src", "__ext")


def _row_checks(file: str, parsed: dict) -> None:
    """Checks across the columns of one row."""
    if file == "invoices.csv" and parsed.get("due_on") and parsed["due_on"] < parsed["issued_on"]:
        raise Problem(_("The due date is before the invoice date."))
    if file == "plans.csv" and parsed["period_end"] < parsed["period_start"]:
        raise Problem(_("The period ends before it starts."))


class Importer:
    def __init__(self, source: Source, report: ImportReport) -> None:
        self.source = source
        self.report = report
        self.sql = Dialect(connection)
        self.tz = ZoneInfo(company_settings().time_zone or "Europe/Moscow")
        self.now = timezone.now()
        self.user_ids: dict[str, int | None] = {}
        self.rejected: dict[str, set[str]] = defaultdict(set)
        self.staged: dict[str, str] = {}  # file -> its staging table ("" if none)
        self.failed: set[str] = set()  # files refused as a whole (header, encoding)

    # --- the run -------------------------------------------------------------------------

    def run(self) -> None:
        self.sql.create_temp(TOUCHED, [("pk", "bigint")])
        self.sql.create_temp(TOUCHED_INVOICES, [("pk", "bigint")])
        for file in spec.FILES:
            if self.source.has(file):
                if file == "managers.csv":
                    self.load_managers()
                elif file == "plans.csv":
                    self.load_plans()
                elif file == "deal_lines.csv":
                    self.load_lines()
                elif file == "stage_changes.csv":
                    self.load_stage_changes()
                else:
                    self.load_entity(ENTITIES[file])
            self.after(file)
        derive.deal_fields(self.sql, TOUCHED)
        if self.report.ok:
            self.flag_deals()

    def after(self, file: str) -> None:
        """Keep what later files depend on once the files it depends on are loaded."""
        staged = self.staged
        if file == "stage_changes.csv" and "deals.csv" in staged:
            derive.deal_history_complete(
                self.sql,
                staged["deals.csv"],
                "exch_stage_deals" if file in staged else None,
                self.now,
            )
        elif file == "payments.csv" and ("invoices.csv" in staged or file in staged):
            derive.invoice_payments(self.sql, TOUCHED_INVOICES, self.now)

    def touch(self, table: str, select: str) -> None:
        """Add the ids that ``select`` returns to a set of touched objects."""
        self.sql.execute(
            f"INSERT INTO {qn(table)} (pk) SELECT DISTINCT x.pk FROM ({select}) x "
            f"WHERE x.pk IS NOT NULL AND x.pk NOT IN (SELECT pk FROM {qn(table)})"
        )
        self.sql.analyze(table)

    # --- reading -------------------------------------------------------------------------

    def open_csv(self, file: str):
        """The file with its column positions and unknown columns, or None if unusable."""
        columns = spec.COLUMNS[file]
        known = [column.name for column in columns]
        try:
            reader = CsvFile(self.source, file, known)
        except (UnicodeDecodeError, csv.Error):
            self.report.error(file, 1, _("The file is neither UTF-8 nor CP1251 CSV text."))
            self.failed.add(file)
            return None
        positions: dict[str, int] = {}
        unknown: list[tuple[int, str]] = []
        ok = True
        for index, name in enumerate(reader.header):
            low = name.lower()
            if low in known:
                if low in positions:
                    self.report.error(
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
                self.report.error(
                    file,
                    reader.header_line,
                    _("The column “%(column)s” is missing.") % {"column": column.name},
                )
                ok = False
        if not ok:
            reader.close()
            self.failed.add(file)
            return None
        return reader, positions, unknown

    def parsed_rows(
        self, file: str, reader: CsvFile, positions: dict[str, int], unknown: list
    ) -> Iterator[tuple[int, dict, dict | None]]:
        """Good rows as ``(line, values, extra)``; bad ones go to the report."""
        report = self.report
        counts = report.file(file)
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
                    self._reject(file, values, id_index)
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
                    self._reject(file, values, id_index)
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

    def _reject(self, file: str, values: list[str], id_index: int | None) -> None:
        if id_index is not None and id_index < len(values):
            self.rejected[file].add(values[id_index].strip())

    # --- users ---------------------------------------------------------------------------

    def user_pk(self, ref: str) -> int | None:
        """A user by the id of managers.csv, or by an id already in the database."""
        if ref in self.user_ids:
            return self.user_ids[ref]
        users = User.objects.all()
        pk = users.filter(source=spec.SOURCE, external_id=ref).values_list("pk", flat=True).first()
        if pk is None:
            parsed = spec.parse_id(ref)
            if parsed.app_pk is not None:
                pk = (
                    users.filter(pk=parsed.app_pk, external_id="")
                    .values_list("pk", flat=True)
                    .first()
                )
            elif parsed.other_source:
                pk = (
                    users.filter(source=parsed.other_source, external_id=parsed.other_id)
                    .values_list("pk", flat=True)
                    .first()
                )
        self.user_ids[ref] = pk
        return pk

    def load_managers(self) -> None:
        file = "managers.csv"
        opened = self.open_csv(file)
        if opened is None:
            return
        counts = self.report.file(file)
        self.staged[file] = ""
        by_email: dict[str, User] = {u.email.lower(): u for u in User.objects.all()}
        teams: dict[str, Team | None] = {}
        seen_ids: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        today = timezone.localdate()
        for line, row, extra in self.parsed_rows(file, *opened):
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
        opened = self.open_csv(file)
        if opened is None:
            return
        counts = self.report.file(file)
        self.staged[file] = ""
        existing = {
            (p.period_start, p.period_end, p.metric, p.manager_id): p
            for p in Plan.objects.filter(team__isnull=True)
        }
        seen: dict[tuple, int] = {}
        for line, row, extra in self.parsed_rows(file, *opened):
            key = (row["period_start"], row["period_end"], row["metric"], row["manager_id"])
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

    # --- entities ------------------------------------------------------------------------

    def staging_columns(self, entity: Entity, with_extra: bool) -> list[tuple[str, str, object]]:
        """``(column, type, model field or None)`` of an entity's staging table."""
        meta = entity.model._meta
        sql = self.sql
        columns: list[tuple[str, str, object]] = [
            ("line", "integer", None),
            ("ext", "text", None),
            ("app_pk", "bigint", None),
            ("alt_source", "text", None),
            ("alt_ext", "text", None),
            ("pk", "bigint", None),
        ]
        for name in entity.fields.values():
            model_field = meta.get_field(name)
            columns.append((model_field.column, sql.field_type(model_field), model_field))
        for name in entity.refs.values():
            model_field = meta.get_field(name)
            columns.append((model_field.column, "bigint", model_field))
            columns.extend((model_field.column + suffix, "text", None) for suffix in REF_SUFFIXES)
        for name in entity.users.values():
            model_field = meta.get_field(name)
            columns.append((model_field.column, "bigint", model_field))
        for name in (*entity.derived, *entity.computed):
            model_field = meta.get_field(name)
            columns.append((model_field.column, sql.field_type(model_field), model_field))
        if with_extra:
            columns.append(("extra", sql.json_type, None))
        # the app id of a reference is a number in a text column: fix its type
        return [
            (name, "bigint" if name.endswith("__app") else kind, model_field)
            for name, kind, model_field in columns
        ]

    def load_entity(self, entity: Entity) -> None:
        file = entity.file
        opened = self.open_csv(file)
        if opened is None:
            return
        reader, positions, unknown = opened
        table = "exch_" + file.removesuffix(".csv")
        columns = self.staging_columns(entity, bool(unknown))
        self.sql.create_temp(table, [(name, kind) for name, kind, _f in columns])
        meta = entity.model._meta
        defaults = {}
        for column_name, model_name in entity.fields.items():
            model_field = meta.get_field(model_name)
            default = None if model_field.null else model_field.get_default()
            defaults[column_name] = str(default) if isinstance(default, str) else default
        used = {"app": False, "alt": False}
        ref_used: dict[str, dict[str, bool]] = {
            name: {"app": False, "alt": False} for name in entity.refs
        }
        field_columns = list(entity.fields)
        ref_columns = list(entity.refs)
        user_columns = list(entity.users)
        tail = len(entity.derived)
        computed = entity.computed

        def rows():
            for line, row, extra in self.parsed_rows(file, reader, positions, unknown):
                ident = row["id"]
                parsed_id = spec.parse_id(ident)
                if parsed_id.app_pk is not None:
                    used["app"] = True
                elif parsed_id.other_source:
                    used["alt"] = True
                values = [
                    line,
                    ident,
                    parsed_id.app_pk,
                    parsed_id.other_source,
                    parsed_id.other_id,
                    None,
                ]
                for name in field_columns:
                    value = row[name]
                    values.append(defaults[name] if value is None else value)
                for name in ref_columns:
                    ref = row[name]
                    if ref is None:
                        values.extend((None, None, None, None, None))
                        continue
                    parsed_ref = spec.parse_id(ref)
                    if parsed_ref.app_pk is not None:
                        ref_used[name]["app"] = True
                    elif parsed_ref.other_source:
                        ref_used[name]["alt"] = True
                    values.extend(
                        (
                            None,
                            ref,
                            parsed_ref.app_pk,
                            parsed_ref.other_source,
                            parsed_ref.other_id,
                        )
                    )
                for name in user_columns:
                    values.append(row[name])
                values.extend([None] * tail)
                if computed:
                    try:
                        values.append(self.transcript(row))
                    except Problem as problem:
                        self.report.error(file, line, str(problem), "transcript")
                        self.rejected[file].add(ident)
                        continue
                if unknown:
                    values.append(json.dumps(extra))
                yield values

        loaded = self.sql.load(table, [name for name, _k, _f in columns], rows())
        self.staged[file] = table
        self.sql.index(table, "ext")
        if loaded > 1000:
            self.sql.analyze(table)
        self.drop_duplicates(file, table)
        if used["app"] or used["alt"] or entity.model.objects.filter(source=spec.SOURCE).exists():
            self.resolve(table, "pk", "ext", "app_pk", "alt_source", "alt_ext", entity.model, used)
        for column_name, fk_name in entity.refs.items():
            fk = meta.get_field(fk_name)
            base = fk.column
            self.resolve(
                table,
                base,
                base + "__ref",
                base + "__app",
                base + "__src",
                base + "__ext",
                fk.related_model,
                ref_used[column_name],
            )
            self.reference_errors(file, table, column_name, base, self._target_file(fk))
        self.prepare(file, table)
        self.merge(entity, table, bool(unknown))
        if entity.model is Deal:
            self.touch(TOUCHED, f"SELECT pk FROM {qn(table)}")
        elif entity.model in (Task, Call):
            self.touch(TOUCHED, f"SELECT deal_id AS pk FROM {qn(table)}")
        elif entity.model is Invoice:
            self.touch(TOUCHED_INVOICES, f"SELECT pk FROM {qn(table)}")
        elif entity.model is Payment:
            self.touch(TOUCHED_INVOICES, f"SELECT invoice_id AS pk FROM {qn(table)}")

    @staticmethod
    def _target_file(fk) -> str:
        return {
            Client: "clients.csv",
            Product: "products.csv",
            Deal: "deals.csv",
            Invoice: "invoices.csv",
        }[fk.related_model]

    def transcript(self, row: dict) -> str:
        path = row["transcript"]
        if not path:
            return "[]"
        try:
            data = self.source.read_relative(path)
        except ValueError:
            raise Problem(
                _("The transcript path “%(path)s” must be relative to the import folder.")
                % {"path": path}
            )
        if data is None:
            raise Problem(_("The transcript file “%(path)s” is not found.") % {"path": path})
        try:
            segments = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            segments = None
        valid = isinstance(segments, list) and all(
            isinstance(s, dict)
            and {"speaker", "start", "end", "text"} <= set(s)
            and isinstance(s["text"], str)
            and isinstance(s["start"], int | float)
            and isinstance(s["end"], int | float)
            for s in segments
        )
        if not valid:
            raise Problem(
                _(
                    "The transcript file “%(path)s” is not a JSON list of segments "
                    "with speaker, start, end and text."
                )
                % {"path": path}
            )
        return json.dumps(segments)

    def drop_duplicates(self, file: str, table: str) -> None:
        t = qn(table)
        duplicates = self.sql.fetchall(
            f"""
            SELECT s.line, s.ext, f.first FROM {t} s
            JOIN (SELECT ext, MIN(line) AS first FROM {t} GROUP BY ext HAVING COUNT(*) > 1) f
              ON f.ext = s.ext
            WHERE s.line > f.first ORDER BY s.line
            """
        )
        for line, ident, first in duplicates:
            self._duplicate(file, line, ident, first)
        if duplicates:
            self.sql.execute(
                f"DELETE FROM {t} WHERE line NOT IN (SELECT MIN(line) FROM {t} GROUP BY ext)"
            )

    def resolve(
        self,
        table: str,
        target: str,
        ref: str,
        app: str,
        src: str,
        ext: str,
        model: type,
        used: dict[str, bool],
    ) -> None:
        """Fill ``target`` with the pk each id names (rules in ``spec``)."""
        t, model_table = qn(table), qn(model._meta.db_table)
        target, ref, app, src, ext = (qn(c) for c in (target, ref, app, src, ext))
        self.sql.execute(
            f"""
            UPDATE {t} SET {target} = m.id FROM {model_table} m
            WHERE m.source = %s AND m.external_id <> '' AND m.external_id = {t}.{ref}
            """,
            [spec.SOURCE],
        )
        if used["app"]:
            self.sql.execute(
                f"""
                UPDATE {t} SET {target} = m.id FROM {model_table} m
                WHERE {t}.{target} IS NULL AND m.id = {t}.{app} AND m.external_id = ''
                """
            )
        if used["alt"]:
            self.sql.execute(
                f"""
                UPDATE {t} SET {target} = m.id FROM {model_table} m
                WHERE {t}.{target} IS NULL AND m.source = {t}.{src}
                  AND m.external_id <> '' AND m.external_id = {t}.{ext}
                """
            )

    def reference_errors(
        self, file: str, table: str, column: str, base: str, target_file: str
    ) -> None:
        t = qn(table)
        unresolved = f"{qn(base + '__ref')} IS NOT NULL AND {qn(base)} IS NULL"
        rejected = self.rejected[target_file]
        own_rejected = self.rejected[file]
        silent = target_file in self.failed
        has_id = file in ENTITIES
        found = False
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT line, {qn(base + '__ref')}, {'ext' if has_id else 'NULL'} "
                f"FROM {t} WHERE {unresolved} ORDER BY line"
            )
            for line, ref, ident in cursor:
                found = True
                if ident is not None:
                    own_rejected.add(ident)  # rows referring to it are not reported again
                if silent or ref in rejected:
                    continue
                self.report.error(
                    file,
                    line,
                    _(
                        "Unknown %(column)s “%(value)s”: there is no such id "
                        "in %(file)s or in the database."
                    )
                    % {"column": column, "value": ref, "file": target_file},
                    column,
                )
        if found:
            self.sql.execute(f"DELETE FROM {t} WHERE {unresolved}")

    def prepare(self, file: str, table: str) -> None:
        """Fill the derived columns of a staging table, as the services would."""
        t = qn(table)
        execute = self.sql.execute
        if file == "tasks.csv":
            execute(
                f"UPDATE {t} SET client_id = d.client_id, "
                f"manager_id = COALESCE({t}.manager_id, d.manager_id) "
                f"FROM crm_deal d WHERE d.id = {t}.deal_id"
            )
        elif file == "calls.csv":
            execute(
                f"UPDATE {t} SET client_id = d.client_id, "
                f"manager_id = COALESCE({t}.manager_id, d.manager_id) "
                f"FROM crm_deal d WHERE d.id = {t}.deal_id"
            )
        elif file == "invoices.csv":
            execute(
                f"UPDATE {t} SET client_id = d.client_id, manager_id = d.manager_id "
                f"FROM crm_deal d WHERE d.id = {t}.deal_id"
            )
            due = self.sql.add_days(f"{t}.issued_on", "c.payment_terms_days")
            execute(
                f"UPDATE {t} SET due_on = {due} FROM crm_client c "
                f"WHERE {t}.due_on IS NULL AND c.id = {t}.client_id"
            )
            execute(f"UPDATE {t} SET due_on = issued_on WHERE due_on IS NULL")
        elif file == "payments.csv":
            execute(
                f"UPDATE {t} SET client_id = i.client_id "
                f"FROM receivables_invoice i WHERE i.id = {t}.invoice_id"
            )
        elif file == "shipments.csv":
            # the deal's totals as they will be once its lines are counted (at the end)
            deals = "exch_shipment_deals"
            self.sql.create_temp(
                deals,
                [("id", "bigint"), ("client_id", "bigint"), ("manager_id", "bigint"),
                 ("amount", self.sql.field_type(Deal._meta.get_field("amount"))),
                 ("volume", self.sql.field_type(Deal._meta.get_field("volume")))],
            )  # fmt: skip
            execute(f"INSERT INTO {qn(deals)} (id) SELECT DISTINCT deal_id FROM {t}")
            self.sql.analyze(deals)
            execute(
                f"""
                UPDATE {qn(deals)} SET client_id = d.client_id, manager_id = d.manager_id,
                    amount = d.amount, volume = d.volume
                FROM crm_deal d WHERE d.id = {qn(deals)}.id
                """
            )
            execute(
                f"""
                UPDATE {qn(deals)} SET amount = l.amount, volume = l.volume
                FROM (
                    SELECT deal_id, ROUND(SUM(qty * price), 2) AS amount, SUM(qty) AS volume
                    FROM crm_dealline WHERE deal_id IN (SELECT id FROM {qn(deals)})
                    GROUP BY deal_id
                ) l WHERE l.deal_id = {qn(deals)}.id
                """
            )
            execute(
                f"""
                UPDATE {t} SET client_id = x.client_id, manager_id = x.manager_id,
                    volume = CASE WHEN x.amount > 0
                        THEN ROUND(x.volume * {t}.amount / x.amount, 3) ELSE 0 END
                FROM {qn(deals)} x WHERE x.id = {t}.deal_id
                """
            )
            execute(
                f"UPDATE {t} SET is_deferred = (c.payment_terms_days > 0) "
                f"FROM crm_client c WHERE c.id = {t}.client_id"
            )
            execute(f"UPDATE {t} SET is_deferred = false WHERE is_deferred IS NULL")

    def merge(self, entity: Entity, table: str, with_extra: bool) -> None:
        """Update the rows that differ, insert the new ones; count what happened."""
        model = entity.model
        meta = model._meta
        t, target = qn(table), qn(meta.db_table)
        sql = self.sql
        counts = self.report.file(entity.file)
        names = [
            *entity.fields.values(),
            *entity.refs.values(),
            *entity.users.values(),
            *entity.derived,
            *entity.computed,
        ]
        model_fields = [meta.get_field(name) for name in names]
        sets, differs, params = [], [], []
        for model_field in model_fields:
            column = qn(model_field.column)
            expression = entity.update_exprs.get(model_field.name, f"s.{column}").format(t=target)
            sets.append(f"{column} = {expression}")
            differs.append(sql.distinct(f"{target}.{column}", expression))
        if with_extra:
            merged = sql.json_merge(f"{target}.extra", "s.extra")
            sets.append(f"extra = {merged}")
            differs.append(sql.distinct(sql.json_normal(f"{target}.extra"), merged))
        field_names = {f.name for f in meta.concrete_fields}
        if "updated_at" in field_names:
            sets.append("updated_at = %s")
            params.append(sql.param(self.now))
        matched = sql.fetchone(f"SELECT COUNT(*) FROM {t} WHERE pk IS NOT NULL")[0]
        updated = (
            sql.execute(
                f"UPDATE {target} SET {', '.join(sets)} FROM {t} s "
                f"WHERE {target}.id = s.pk AND ({' OR '.join(differs)})",
                params,
            )
            if matched
            else 0
        )
        # insert: every column of the model, from staging, an expression or its default
        columns, expressions, insert_params = [], [], []
        given = {f.name for f in model_fields}
        for model_field in meta.concrete_fields:
            if model_field.primary_key:
                continue
            name = model_field.name
            if name in given:
                columns.append(model_field.column)
                expressions.append(f"s.{qn(model_field.column)}")
            elif name == "source":
                columns.append("source")
                expressions.append("%s")
                insert_params.append(spec.SOURCE)
            elif name == "external_id":
                columns.append("external_id")
                expressions.append("s.ext")
            elif name == "extra":
                columns.append("extra")
                empty = sql.json_literal({})
                expressions.append(f"COALESCE(s.extra, {empty})" if with_extra else empty)
            elif name in entity.insert_exprs:
                columns.append(model_field.column)
                expressions.append(entity.insert_exprs[name])
            elif getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            ):
                columns.append(model_field.column)
                expressions.append("%s")
                insert_params.append(sql.param(self.now))
            elif model_field.null:
                continue
            elif model_field.get_internal_type() == "JSONField":
                columns.append(model_field.column)
                expressions.append(sql.json_literal(model_field.get_default()))
            elif model_field.has_default():
                columns.append(model_field.column)
                expressions.append("%s")
                insert_params.append(sql.param(model_field.get_default()))
            else:
                raise AssertionError(f"{meta.label}.{name} needs a value on import")
        created = sql.execute(
            f"INSERT INTO {target} ({', '.join(qn(c) for c in columns)}) "
            f"SELECT {', '.join(expressions)} FROM {t} s WHERE s.pk IS NULL ORDER BY s.line",
            insert_params,
        )
        if created and model in (Deal, Invoice):  # later steps need their pks
            self.resolve(
                table,
                "pk",
                "ext",
                "app_pk",
                "alt_source",
                "alt_ext",
                model,
                {"app": False, "alt": False},
            )
        counts.created += created
        counts.updated += updated
        counts.unchanged += matched - updated

    # --- deal lines and stage history ----------------------------------------------------

    def load_lines(self) -> None:
        file = "deal_lines.csv"
        opened = self.open_csv(file)
        if opened is None:
            return
        reader, positions, unknown = opened
        self._warn_unknown(file, unknown)
        table = "exch_deal_lines"
        qty = self.sql.field_type(DealLine._meta.get_field("qty"))
        money = self.sql.field_type(DealLine._meta.get_field("price"))
        columns = [
            ("line", "integer"),
            *self._ref_columns("deal_id"),
            *self._ref_columns("product_id"),
            ("qty", qty),
            ("price", money),
            ("cost_price", money),
            ("list_price", money),
            ("position", "integer"),
        ]
        self.sql.create_temp(table, columns)
        used = {"deal_id": {"app": False, "alt": False}, "product_id": {"app": False, "alt": False}}

        def rows():
            for line, row, _extra in self.parsed_rows(file, reader, positions, unknown):
                yield [
                    line,
                    *self._ref_values(row["deal_id"], used["deal_id"]),
                    *self._ref_values(row["product_id"], used["product_id"]),
                    row["qty"],
                    row["price"],
                    row["cost_price"],
                    row["list_price"],
                    None,
                ]

        if self.sql.load(table, [name for name, _k in columns], rows()) > 1000:
            self.sql.analyze(table)
        self.staged[file] = table
        for column, model, target_file in (
            ("deal_id", Deal, "deals.csv"),
            ("product_id", Product, "products.csv"),
        ):
            self.resolve(table, column, *(column + s for s in REF_SUFFIXES), model, used[column])
            self.reference_errors(file, table, column, column, target_file)
        t = qn(table)
        execute = self.sql.execute
        self.sql.index(table, "deal_id", "position")
        execute(
            f"""
            UPDATE {t} SET price = COALESCE({t}.price, p.list_price),
                cost_price = COALESCE({t}.cost_price, p.cost_price),
                list_price = COALESCE({t}.list_price, p.list_price)
            FROM crm_product p WHERE p.id = {t}.product_id
              AND ({t}.price IS NULL OR {t}.cost_price IS NULL OR {t}.list_price IS NULL)
            """
        )
        execute(
            f"""
            UPDATE {t} SET position = r.rn FROM (
                SELECT line AS l, ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY line) - 1 AS rn
                FROM {t}
            ) r WHERE {t}.line = r.l
            """
        )
        # probe the real lines from each staged line (an index lookup per line)
        same = (
            f"SELECT s.deal_id, COUNT(*) AS same FROM {t} s WHERE EXISTS ("
            f"SELECT 1 FROM crm_dealline l WHERE l.deal_id = s.deal_id "
            f"AND l.position = s.position AND {self.sql.no_index('l.product_id')} = s.product_id "
            f"AND l.qty = s.qty "
            f"AND l.price = s.price AND l.cost_price = s.cost_price "
            f"AND l.list_price = s.list_price) GROUP BY s.deal_id"
        )
        self._replace_per_deal(
            file,
            table,
            "exch_line_deals",
            "crm_dealline",
            same,
            "deal_id, product_id, qty, price, cost_price, list_price, position",
            "deal_id, product_id, qty, price, cost_price, list_price, position",
        )
        self.touch(TOUCHED, f"SELECT deal_id AS pk FROM {qn('exch_line_deals')}")

    def load_stage_changes(self) -> None:
        file = "stage_changes.csv"
        opened = self.open_csv(file)
        if opened is None:
            return
        reader, positions, unknown = opened
        self._warn_unknown(file, unknown)
        table = "exch_stage_changes"
        meta = StageChange._meta
        columns = [
            ("line", "integer"),
            *self._ref_columns("deal_id"),
            ("stage", self.sql.field_type(meta.get_field("stage"))),
            ("changed_at", self.sql.field_type(meta.get_field("changed_at"))),
            ("from_stage", self.sql.field_type(meta.get_field("from_stage"))),
            ("rn", "bigint"),
            ("is_last", "integer"),
        ]
        self.sql.create_temp(table, columns)
        used = {"app": False, "alt": False}

        def rows():
            for line, row, _extra in self.parsed_rows(file, reader, positions, unknown):
                yield [
                    line,
                    *self._ref_values(row["deal_id"], used),
                    row["stage"],
                    row["changed_at"],
                    None,
                    None,
                    0,
                ]

        if self.sql.load(table, [name for name, _k in columns], rows()) > 1000:
            self.sql.analyze(table)
        self.staged[file] = table
        self.resolve(table, "deal_id", *("deal_id" + s for s in REF_SUFFIXES), Deal, used)
        self.reference_errors(file, table, "deal_id", "deal_id", "deals.csv")
        t = qn(table)
        self.sql.index(table, "deal_id", "rn")
        self.sql.execute(
            f"""
            UPDATE {t} SET rn = r.rn, from_stage = r.previous,
                is_last = CASE WHEN r.rn = r.total THEN 1 ELSE 0 END
            FROM (
                SELECT line AS l, ROW_NUMBER() OVER w AS rn,
                    LAG(stage, 1, '') OVER w AS previous,
                    COUNT(*) OVER (PARTITION BY deal_id) AS total
                FROM {t} WINDOW w AS (PARTITION BY deal_id ORDER BY changed_at, line)
            ) r WHERE {t}.line = r.l
            """
        )
        # The history must end at the deal's stage.
        for line, ref, history, stage in self.sql.fetchall(
            f"""
            SELECT s.line, s.deal_id__ref, s.stage, d.stage FROM {t} s
            JOIN crm_deal d ON d.id = s.deal_id
            WHERE s.is_last = 1 AND s.stage <> d.stage ORDER BY s.line
            """
        ):
            self.report.error(
                file,
                line,
                _(
                    "The last stage change of deal “%(deal)s” is “%(history)s”, "
                    "but the deal is at the stage “%(stage)s”."
                )
                % {"deal": ref, "history": history, "stage": stage},
            )
        same = (
            f"SELECT s.deal_id, COUNT(*) AS same FROM {t} s JOIN ("
            f"SELECT deal_id, stage, from_stage, changed_at, ROW_NUMBER() OVER ("
            f"PARTITION BY deal_id ORDER BY changed_at, id) AS rn FROM crm_stagechange "
            f"WHERE deal_id IN (SELECT deal_id FROM {qn('exch_stage_deals')})) e "
            f"ON e.deal_id = s.deal_id AND e.rn = s.rn AND e.stage = s.stage "
            f"AND e.from_stage = s.from_stage AND e.changed_at = s.changed_at GROUP BY s.deal_id"
        )
        self._replace_per_deal(
            file,
            table,
            "exch_stage_deals",
            "crm_stagechange",
            same,
            "deal_id, from_stage, stage, changed_at",
            "deal_id, from_stage, stage, changed_at",
        )
        self.touch(TOUCHED, f"SELECT deal_id AS pk FROM {qn('exch_stage_deals')}")

    def _replace_per_deal(
        self,
        file: str,
        table: str,
        deals: str,
        target: str,
        same: str,
        insert_columns: str,
        select_columns: str,
    ) -> None:
        """Replace a deal's rows (lines, history) when the file gives a different list."""
        t, d, real = qn(table), qn(deals), qn(target)
        execute = self.sql.execute
        self.sql.create_temp(
            deals,
            [
                ("deal_id", "bigint"),
                ("staged", "bigint"),
                ("existing", "bigint"),
                ("same", "bigint"),
            ],
        )
        execute(
            f"INSERT INTO {d} (deal_id, staged, existing, same) "
            f"SELECT deal_id, COUNT(*), 0, 0 FROM {t} GROUP BY deal_id"
        )
        execute(
            f"UPDATE {d} SET existing = x.n FROM (SELECT deal_id, COUNT(*) AS n FROM {real} "
            f"WHERE deal_id IN (SELECT deal_id FROM {d}) GROUP BY deal_id) x "
            f"WHERE {d}.deal_id = x.deal_id"
        )
        execute(f"UPDATE {d} SET same = x.same FROM ({same}) x WHERE {d}.deal_id = x.deal_id")
        changed = f"(SELECT deal_id FROM {d} WHERE staged <> existing OR same <> staged)"
        counts = self.report.file(file)
        counts.deleted += execute(f"DELETE FROM {real} WHERE deal_id IN {changed}")
        counts.created += execute(
            f"INSERT INTO {real} ({insert_columns}) SELECT {select_columns} FROM {t} "
            f"WHERE deal_id IN {changed} ORDER BY line"
        )
        counts.unchanged += self.sql.fetchone(
            f"SELECT COALESCE(SUM(staged), 0) FROM {d} WHERE staged = existing AND same = staged"
        )[0]

    @staticmethod
    def _ref_columns(base: str) -> list[tuple[str, str]]:
        return [
            (base, "bigint"),
            (base + "__ref", "text"),
            (base + "__app", "bigint"),
            (base + "__src", "text"),
            (base + "__ext", "text"),
        ]

    @staticmethod
    def _ref_values(ref: str | None, used: dict[str, bool]) -> tuple:
        if ref is None:
            return (None, None, None, None, None)
        if not ref.startswith(spec.APP_ID_PREFIX) and ":" not in ref:
            return (None, ref, None, None, None)
        parsed = spec.parse_id(ref)
        if parsed.app_pk is not None:
            used["app"] = True
        elif parsed.other_source:
            used["alt"] = True
        return (None, ref, parsed.app_pk, parsed.other_source, parsed.other_id)

    def _warn_unknown(self, file: str, unknown: list) -> None:
        if unknown:
            self.report.warnings.append(
                _(
                    "%(file)s: the columns %(columns)s are not kept (these rows have no extra attributes)."
                )
                % {"file": file, "columns": ", ".join(name for _i, name in unknown)}
            )

    # --- rules ---------------------------------------------------------------------------

    def flag_deals(self) -> None:
        """Run the deal.save rules over the imported deals; store what they flag."""
        deals = Deal.objects.filter(pk__in=RawSQL(f"SELECT pk FROM {qn(TOUCHED)}", ()))
        violations = rulebook.evaluate_bulk("deal.save", deals)
        sql = self.sql
        flags_table = "exch_flags"
        sql.create_temp(flags_table, [("pk", "bigint"), ("flags", sql.json_type)])
        rows = []
        for pk, found in violations.items():
            flags = {}
            for violation in found:
                flags[violation.code] = str(violation.message)
            rows.append((pk, json.dumps(flags)))
        sql.load(flags_table, ["pk", "flags"], rows)
        self.report.flagged_deals = len(rows)
        f = qn(flags_table)
        sql.execute(
            f"UPDATE crm_deal SET flags = x.flags FROM {f} x "
            f"WHERE crm_deal.id = x.pk AND {sql.distinct('crm_deal.flags', 'x.flags')}"
        )
        empty = sql.json_literal({})
        sql.execute(
            f"UPDATE crm_deal SET flags = {empty} WHERE id IN (SELECT pk FROM {qn(TOUCHED)}) "
            f"AND id NOT IN (SELECT pk FROM {f}) AND {sql.distinct('flags', empty)}"
        )
