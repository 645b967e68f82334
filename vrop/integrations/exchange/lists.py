"""Files whose rows are lists per deal without ids (deal_lines.csv,
stage_changes.csv): the file's list replaces the deal's list when they differ."""

from __future__ import annotations

from django.utils.translation import gettext as _

from vrop.crm.models import Deal, DealLine, Product, StageChange
from vrop.integrations.exchange import history, spec
from vrop.integrations.exchange.entities import REF_SUFFIXES, TOUCHED
from vrop.integrations.exchange.pipeline import FileSink, Parsed
from vrop.integrations.exchange.sql import qn


class DealListLoader:
    """Deal lines and stage history; mixed into ``importer.Importer``."""

    def parse_lines(self, sink: FileSink) -> Parsed:
        """The rows of deal_lines.csv for staging (no database access)."""
        file = "deal_lines.csv"
        table = "exch_deal_lines"
        opened = self.open_csv(file, sink)
        if opened is None:
            return Parsed(file, table, [], None, sink)
        reader, positions, unknown = opened
        self._warn_unknown(file, unknown, sink)
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
        used = {"deal_id": {"app": False, "alt": False}, "product_id": {"app": False, "alt": False}}
        # Positions are counted here per run of rows of one deal; they are right as they
        # are when every deal's rows form one run (checked below), as files usually do.
        runs = {"count": 0, "deal": None, "position": 0}

        def rows():
            for line, row, _extra in self.parsed_rows(file, reader, positions, unknown, sink):
                deal = row["deal_id"]
                if deal != runs["deal"]:
                    runs["count"] += 1
                    runs["deal"], runs["position"] = deal, 0
                else:
                    runs["position"] += 1
                yield [
                    line,
                    *self._ref_values(deal, used["deal_id"]),
                    *self._ref_values(row["product_id"], used["product_id"]),
                    row["qty"],
                    row["price"],
                    row["cost_price"],
                    row["list_price"],
                    runs["position"],
                ]

        return Parsed(file, table, columns, rows, sink, {"used": used, "runs": runs})

    def load_lines(self, parsed: Parsed) -> None:
        file, table = parsed.file, parsed.table
        used, runs = parsed.state["used"], parsed.state["runs"]
        if self.stage(parsed) > 1000:
            self.sql.analyze(
                table, "line", *self._ref_names("deal_id"), *self._ref_names("product_id")
            )
        self.staged[file] = table
        dropped = False
        for column, model, target_file in (
            ("deal_id", Deal, "deals.csv"),
            ("product_id", Product, "products.csv"),
        ):
            self.resolve(table, column, *(column + s for s in REF_SUFFIXES), model, used[column])
            dropped |= self.reference_errors(file, table, column, column, target_file)
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
        if dropped or not self._one_run_per_deal(table, runs["count"]):
            execute(
                f"""
                UPDATE {t} SET position = r.rn FROM (
                    SELECT line AS l,
                        ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY line) - 1 AS rn
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

    def parse_stage_changes(self, sink: FileSink) -> Parsed:
        """The rows of stage_changes.csv for staging (no database access)."""
        file = "stage_changes.csv"
        table = "exch_stage_changes"
        opened = self.open_csv(file, sink)
        if opened is None:
            return Parsed(file, table, [], None, sink)
        reader, positions, unknown = opened
        self._warn_unknown(file, unknown, sink)
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
        used = {"app": False, "alt": False}
        # As for lines: each run of rows of one deal is ordered here (by time, then
        # line), which is the deal's history when every deal forms one run.
        runs = {"count": 0}

        def ordered(run):
            run.sort(key=lambda values: (values[7], values[0]))
            previous = ""
            for rn, values in enumerate(run, 1):
                values[8], values[9] = previous, rn
                values[10] = 1 if rn == len(run) else 0
                previous = values[6]
            return run

        def rows():
            run, deal = [], None
            for line, row, _extra in self.parsed_rows(file, reader, positions, unknown, sink):
                if row["deal_id"] != deal:
                    yield from ordered(run)
                    runs["count"] += 1
                    run, deal = [], row["deal_id"]
                run.append(
                    [
                        line,
                        *self._ref_values(row["deal_id"], used),
                        row["stage"],
                        row["changed_at"],
                        None,
                        None,
                        0,
                    ]
                )
            yield from ordered(run)

        return Parsed(file, table, columns, rows, sink, {"used": used, "runs": runs})

    def load_stage_changes(self, parsed: Parsed) -> None:
        file, table = parsed.file, parsed.table
        used, runs = parsed.state["used"], parsed.state["runs"]
        if self.stage(parsed) > 1000:
            self.sql.analyze(table, "line", *self._ref_names("deal_id"), "rn", "is_last")
        self.staged[file] = table
        self.resolve(table, "deal_id", *("deal_id" + s for s in REF_SUFFIXES), Deal, used)
        dropped = self.reference_errors(file, table, "deal_id", "deal_id", "deals.csv")
        t = qn(table)
        self.sql.index(table, "deal_id", "rn")
        if dropped or not self._one_run_per_deal(table, runs["count"]):
            self._order_history(table)
        # The history must end at the deal's stage.
        wrong = []
        for deal_table in self.deal_tables():
            wrong += self.sql.fetchall(
                f"""
                SELECT s.line, s.deal_id__ref, s.stage, d.stage FROM {t} s
                JOIN {deal_table} d ON d.id = s.deal_id
                WHERE s.is_last = 1 AND s.stage <> d.stage ORDER BY s.line
                """
            )
        for line, ref, last_stage, stage in sorted(wrong):
            self.report.error(
                file,
                line,
                _(
                    "The last stage change of deal “%(deal)s” is “%(history)s”, "
                    "but the deal is at the stage “%(stage)s”."
                )
                % {"deal": ref, "history": last_stage, "stage": stage},
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
        lines = target == DealLine._meta.db_table  # lines have simple-history rows
        if lines:
            history.removed(self.sql, DealLine, f"t.deal_id IN {changed}", self.now)
        counts.deleted += execute(f"DELETE FROM {real} WHERE deal_id IN {changed}")
        source = f"FROM {t} WHERE deal_id IN {changed}"
        insert = (
            f"INSERT INTO {real} ({insert_columns}) SELECT {select_columns} {source} ORDER BY line"
        )
        model = DealLine if lines else StageChange
        values = dict(zip(insert_columns.split(", "), select_columns.split(", "), strict=True))
        coming = self.sql.fetchone(f"SELECT COUNT(*) {source}")[0]
        models = [DealLine, DealLine.history.model] if lines else [StageChange]
        with self.refs.inserting(model, values, source), self.indexes.inserting(models, coming):
            if lines and self.sql.is_postgres:
                counts.created += history.insert_with_history(
                    self.sql, DealLine, insert, [], self.now
                )
            else:
                counts.created += execute(insert)
        if lines and not self.sql.is_postgres:
            history.write(
                self.sql,
                DealLine,
                f"(SELECT id FROM {real} WHERE deal_id IN {changed})",
                self.now,
                fresh=True,  # the lines just inserted
            )
        counts.unchanged += self.sql.fetchone(
            f"SELECT COALESCE(SUM(staged), 0) FROM {d} WHERE staged = existing AND same = staged"
        )[0]

    def _one_run_per_deal(self, table: str, runs: int) -> bool:
        """Whether the rows of each deal came as one run (a deal has one id string)."""
        distinct = self.sql.fetchone(f"SELECT COUNT(DISTINCT deal_id) FROM {qn(table)}")[0]
        return distinct == runs

    def _order_history(self, table: str) -> None:
        t = qn(table)
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
    def _ref_names(base: str) -> list[str]:
        return [name for name, _kind in DealListLoader._ref_columns(base)]

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

    @staticmethod
    def _warn_unknown(file: str, unknown: list, sink: FileSink) -> None:
        if unknown:
            sink.warn(
                _(
                    "%(file)s: the columns %(columns)s are not kept (these rows have no extra attributes)."
                )
                % {"file": file, "columns": ", ".join(name for _i, name in unknown)}
            )
