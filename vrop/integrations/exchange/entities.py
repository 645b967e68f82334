"""Files whose rows are objects with ids (clients, products, deals, tasks, invoices,
payments, shipments, calls): one generic staging pass for each.

Rows go to a staging table; ids and references are resolved in SQL by the rules
of ``spec``; derived columns are filled as the services would; then the rows that
differ are updated and new ids inserted (``merge``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils.translation import gettext as _

from vrop.callaudit.models import Call
from vrop.crm.models import Client, Deal, Product, Task
from vrop.integrations.exchange import derive, history, spec
from vrop.integrations.exchange.derive import DEAL_FIELDS
from vrop.integrations.exchange.pipeline import FileSink, Parsed
from vrop.integrations.exchange.sql import qn
from vrop.integrations.exchange.staged import NEW_DEALS, NEW_FACTS, NEW_INVOICES, StagedDeal
from vrop.integrations.exchange.values import Problem
from vrop.receivables.models import Invoice, Payment, Shipment

TOUCHED = "exch_touched_deals"
TOUCHED_INVOICES = "exch_touched_invoices"
MOVED = "exch_moved_deals"  # existing deals whose arrival, first contact or quote changed
PAID = "exch_paid_deals"  # deals whose invoices (or their payment) changed


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
        # new invoices are written once their payments are known (``hold_new_invoices``)
        insert_exprs={"paid_amount": "COALESCE(s.paid_amount, 0)", "paid_on": "s.paid_on"},
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


class EntityLoader:
    """The generic pass; mixed into ``importer.Importer``."""

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
        if entity.model is Invoice:  # of the new invoices, held (``hold_new_invoices``)
            for name in ("paid_amount", "paid_on"):
                model_field = meta.get_field(name)
                columns.append((name, sql.field_type(model_field), None))
        # the app id of a reference is a number in a text column: fix its type
        return [
            (name, "bigint" if name.endswith("__app") else kind, model_field)
            for name, kind, model_field in columns
        ]

    def parse_entity(self, entity: Entity, sink: FileSink) -> Parsed:
        """The rows of an entity's file for its staging table (no database access: this
        may run in the parsing thread, ``pipeline``)."""
        file = entity.file
        table = "exch_" + file.removesuffix(".csv")
        opened = self.open_csv(file, sink)
        if opened is None:
            return Parsed(file, table, [], None, sink)
        reader, positions, unknown = opened
        columns = self.staging_columns(entity, bool(unknown))
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
        held = (None, None) if entity.model is Invoice else ()  # paid_amount, paid_on
        computed = entity.computed

        def rows():
            for line, row, extra in self.parsed_rows(file, reader, positions, unknown, sink):
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
                        sink.error(file, line, str(problem), "transcript")
                        sink.reject(ident)
                        continue
                if unknown:
                    values.append(json.dumps(extra))
                values.extend(held)
                yield values

        state = {"used": used, "ref_used": ref_used, "unknown": bool(unknown)}
        return Parsed(file, table, [(n, k) for n, k, _f in columns], rows, sink, state)

    def load_entity(self, entity: Entity, parsed: Parsed) -> None:
        file, table = entity.file, parsed.table
        meta = entity.model._meta
        used, ref_used = parsed.state["used"], parsed.state["ref_used"]
        unknown = parsed.state["unknown"]
        loaded = self.stage(parsed)
        self.staged[file] = table
        self.sql.index(table, "ext")
        if loaded > 1000:
            # the ids and references (the values are not joined or filtered on)
            values = {f.column for f in (meta.get_field(n) for n in entity.fields.values())}
            keys = [name for name, _k in parsed.columns if name not in values]
            self.sql.analyze(table, *(name for name in keys if name != "extra"))
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
        if entity.model in (Client, Product):
            t, real = qn(table), qn(entity.model._meta.db_table)
            created = (
                f"(SELECT id FROM {real} WHERE source = '{spec.SOURCE}' "
                f"AND external_id IN (SELECT ext FROM {t} WHERE pk IS NULL))"
            )
            history.write(
                self.sql,
                entity.model,
                f"(SELECT pk FROM {t} UNION ALL SELECT id FROM {created} c)",
                self.now,
                created,
            )
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
        if model is Deal and self.new_deals:
            # deals of this import not written yet (``staged``): all are exchange objects
            self.sql.execute(
                f"""
                UPDATE {t} SET {target} = m.id FROM {qn(NEW_DEALS)} m
                WHERE {t}.{target} IS NULL AND m.external_id = {t}.{ref}
                """
            )
        if model is Invoice and self.new_invoices:
            # invoices of this import not written yet (``hold_new_invoices``)
            self.sql.execute(
                f"""
                UPDATE {t} SET {target} = m.pk FROM {qn(self.staged["invoices.csv"])} m
                WHERE {t}.{target} IS NULL AND m.ext = {t}.{ref}
                  AND m.pk IN (SELECT id FROM {qn(NEW_INVOICES)})
                """
            )

    def reference_errors(
        self, file: str, table: str, column: str, base: str, target_file: str
    ) -> bool:
        """Report the rows whose reference is unknown and drop them; whether any were."""
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
        return found

    def prepare(self, file: str, table: str) -> None:
        """Fill the derived columns of a staging table, as the services would."""
        t = qn(table)
        execute = self.sql.execute
        deal_tables = self.deal_tables()
        if file in ("tasks.csv", "calls.csv"):
            for deal_table in deal_tables:
                execute(
                    f"UPDATE {t} SET client_id = d.client_id, "
                    f"manager_id = COALESCE({t}.manager_id, d.manager_id) "
                    f"FROM {deal_table} d WHERE d.id = {t}.deal_id"
                )
        elif file == "invoices.csv":
            for deal_table in deal_tables:
                execute(
                    f"UPDATE {t} SET client_id = d.client_id, manager_id = d.manager_id "
                    f"FROM {deal_table} d WHERE d.id = {t}.deal_id"
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
            if self.new_invoices:
                execute(
                    f"UPDATE {t} SET client_id = i.client_id "
                    f"FROM {qn(self.staged['invoices.csv'])} i WHERE i.pk = {t}.invoice_id "
                    f"AND i.pk IN (SELECT id FROM {qn(NEW_INVOICES)})"
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
            for deal_table in deal_tables:
                execute(
                    f"""
                    UPDATE {qn(deals)} SET client_id = d.client_id, manager_id = d.manager_id,
                        amount = d.amount, volume = d.volume
                    FROM {deal_table} d WHERE d.id = {qn(deals)}.id
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
        if matched and model is Deal:
            self.touch(
                MOVED,
                f"SELECT s.pk FROM {t} s JOIN {target} ON {target}.id = s.pk "
                f"WHERE {sql.distinct(f'{target}.received_at', 's.received_at')}",
            )
        elif matched and model is Invoice:
            # an invoice that changes (or moves to another deal) changes both deals' facts
            changed = (
                f"FROM {t} s JOIN {target} ON {target}.id = s.pk WHERE ({' OR '.join(differs)})"
            )
            self.touch(
                PAID,
                f"SELECT {target}.deal_id AS pk {changed} UNION SELECT s.deal_id AS pk {changed}",
            )
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
        if model is Deal:
            created = self.stage_new_deals(table, columns, expressions, insert_params)
            counts.created += created
            counts.updated += updated
            counts.unchanged += matched - updated
            return
        if model is Invoice:
            self.touch(PAID, f"SELECT deal_id AS pk FROM {t} WHERE pk IS NULL")
            created = self.hold_new_invoices(table, columns, expressions, insert_params)
            counts.created += created
            counts.updated += updated
            counts.unchanged += matched - updated
            return
        source = f"FROM {t} s WHERE s.pk IS NULL"
        coming = sql.fetchone(f"SELECT COUNT(*) {source}")[0]
        with (
            self.refs.inserting(model, dict(zip(columns, expressions, strict=True)), source),
            self.indexes.inserting([model], coming),
        ):
            created = sql.execute(
                f"INSERT INTO {target} ({', '.join(qn(c) for c in columns)}) "
                f"SELECT {', '.join(expressions)} {source} ORDER BY s.line",
                insert_params,
            )
        counts.created += created
        counts.updated += updated
        counts.unchanged += matched - updated

    def hold_new_invoices(
        self, table: str, columns: list[str], expressions: list[str], params: list
    ) -> int:
        """New invoices stay in their staging table with pks reserved now (payments refer
        to them by these pks; foreign keys are checked at commit); ``write_new_invoices``
        writes them once their payments are loaded. Returns how many."""
        sql = self.sql
        t, held = qn(table), qn(NEW_INVOICES)
        sql.create_temp(NEW_INVOICES, [("line", "integer"), ("id", "bigint")])
        new_id, id_params = sql.new_ids(Invoice._meta.db_table, "s.line")
        count = sql.execute(
            f"INSERT INTO {held} (line, id) SELECT s.line, {new_id} "
            f"FROM (SELECT line FROM {t} WHERE pk IS NULL ORDER BY line) s ORDER BY s.line",
            id_params,
        )
        if not count:
            return 0
        sql.execute(f"UPDATE {t} SET pk = n.id FROM {held} n WHERE n.line = {t}.line")
        sql.index(NEW_INVOICES, "id")
        sql.analyze(NEW_INVOICES)
        self.refs.creating(Invoice, f"SELECT id FROM {held}")
        sql.analyze(table, "pk")  # was empty when the table was analyzed
        self.new_invoices = count
        source = f"FROM {t} s WHERE s.pk IN (SELECT id FROM {held})"
        self.new_invoice_insert = (
            f"INSERT INTO {qn(Invoice._meta.db_table)} (id, {', '.join(qn(c) for c in columns)}) "
            f"SELECT s.pk, {', '.join(expressions)} {source} ORDER BY s.pk",
            params,
            dict(zip(columns, expressions, strict=True)),
            source,
        )
        return count

    def write_new_invoices(self) -> None:
        """The held new invoices, with what their payments paid, into
        ``receivables_invoice``: one write each."""
        if not self.new_invoices:
            return
        sql = self.sql
        t, held = qn(self.staged["invoices.csv"]), qn(NEW_INVOICES)
        amounts = f"(SELECT pk AS id, amount FROM {t} WHERE pk IN (SELECT id FROM {held}))"
        values = derive.invoice_paid_values(f"(SELECT id AS pk FROM {held})", amounts)
        sql.execute(
            f"UPDATE {t} SET paid_amount = x.paid_amount, paid_on = x.paid_on "
            f"FROM ({values}) x WHERE {t}.pk = x.id"
        )
        insert, params, values, source = self.new_invoice_insert
        with (
            self.refs.inserting(Invoice, values, source),
            self.indexes.inserting([Invoice], self.new_invoices),
        ):
            sql.execute(insert, params)
        self.new_invoices = 0

    def stage_new_deals(
        self, table: str, columns: list[str], expressions: list[str], params: list
    ) -> int:
        """New deals go to ``NEW_DEALS`` with pks reserved now; ``write_new_deals`` writes
        them once their derived fields are known. Returns how many."""
        sql = self.sql
        t = qn(table)
        sql.create_temp(
            NEW_DEALS, [(f.column, sql.field_type(f)) for f in Deal._meta.concrete_fields]
        )
        new_id, id_params = sql.new_ids(Deal._meta.db_table, "s.line")
        # nextval runs as the ordered rows come out: pks in the order of the file
        count = sql.execute(
            f"INSERT INTO {qn(NEW_DEALS)} (id, {', '.join(qn(c) for c in columns)}) "
            f"SELECT {new_id}, {', '.join(expressions)} "
            f"FROM (SELECT * FROM {t} WHERE pk IS NULL ORDER BY line) s ORDER BY s.line",
            [*id_params, *params],
        )
        if not count:
            return 0
        sql.index(NEW_DEALS, "external_id")
        sql.analyze(NEW_DEALS, "id", "external_id", "client_id", "manager_id", "stage")
        self.refs.creating(Deal, f"SELECT id FROM {qn(NEW_DEALS)}")
        self.new_deals = count
        self.touch(TOUCHED, f"SELECT id AS pk FROM {qn(NEW_DEALS)}")
        return count

    def write_new_deals(self) -> None:
        """The new deals, with every derived field, into ``crm_deal``: one write each."""
        if not self.new_deals:
            return
        fields = Deal._meta.concrete_fields
        facts = {f.column for f in StagedDeal._meta.concrete_fields} | set(DEAL_FIELDS)
        facts -= {"id", "received_at"}
        names = ", ".join(qn(f.column) for f in fields)
        expressions = {
            f.column: f"{'x' if f.column in facts else 'n'}.{qn(f.column)}" for f in fields
        }
        source = f"FROM {qn(NEW_DEALS)} n JOIN {qn(NEW_FACTS)} x ON x.id = n.id WHERE true"
        with (
            self.refs.inserting(Deal, expressions, source),
            self.indexes.inserting([Deal], self.new_deals),
        ):
            self.sql.execute(
                f"INSERT INTO {qn(Deal._meta.db_table)} ({names}) "
                f"SELECT {', '.join(expressions.values())} {source} ORDER BY n.id"
            )
        self.new_deals_written = True
