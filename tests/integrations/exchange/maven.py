"""Convert the Maven Analytics "CRM Sales Opportunities" files into the exchange format.

- sales agents (sales_teams.csv) become managers with generated e-mails
  (``first.last@maven.example``), their regional office as the team; the six regional
  managers become heads;
- accounts become clients (sector as the segment); their other columns
  (year_established, revenue, ...) stay as extra attributes;
- products are keyed by their normalised spelling, so that "GTXPro" in the pipeline
  and "GTX Pro" in products.csv are the same product; units are pieces, the list price
  is sales_price, the cost is not in the data (0);
- Prospecting → lead, Engaging → contact, Won → won, Lost → lost; engage_date is when
  the deal was received (Prospecting rows have no date: the snapshot day, 2017-12-31);
  close_date is the moment of the won/lost stage change; close_value is the amount,
  written as one line of the product at that price (open deals: at the list price).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

SNAPSHOT_DAY = "2017-12-31"
STAGES = {"Prospecting": "lead", "Engaging": "contact", "Won": "won", "Lost": "lost"}


def product_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def person_id(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")


def account_id(name: str) -> str:
    return "acc-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def convert(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    teams = _read(source / "sales_teams.csv")
    heads = sorted({row["manager"]: row["regional_office"] for row in teams}.items())
    _write(
        target / "managers.csv",
        ["id", "name", "email", "role", "team", "hired_on", "left_on"],
        [
            [person_id(name), name, f"{person_id(name)}@maven.example", "head", office, "", ""]
            for name, office in heads
        ]
        + [
            [
                person_id(row["sales_agent"]),
                row["sales_agent"],
                f"{person_id(row['sales_agent'])}@maven.example",
                "manager",
                row["regional_office"],
                "",
                "",
            ]
            for row in teams
        ],
    )
    accounts = _read(source / "accounts.csv")
    extra = ["year_established", "revenue", "employees", "office_location", "subsidiary_of"]
    _write(
        target / "clients.csv",
        [
            "id",
            "name",
            "inn",
            "segment",
            "manager_id",
            "payment_terms_days",
            "credit_limit",
            *extra,
        ],
        [
            [
                account_id(a["account"]),
                a["account"],
                "",
                a["sector"],
                "",
                "",
                "",
                *(a[k] for k in extra),
            ]
            for a in accounts
        ],
    )
    products = _read(source / "products.csv")
    list_price = {product_key(p["product"]): p["sales_price"] for p in products}
    _write(
        target / "products.csv",
        ["id", "name", "category", "unit", "cost_price", "list_price"],
        [
            [product_key(p["product"]), p["product"], p["series"], "pcs", "0", p["sales_price"]]
            for p in products
        ],
    )
    deals, lines, changes = [], [], []
    for row in _read(source / "sales_pipeline.csv"):
        stage = STAGES[row["deal_stage"]]
        received = row["engage_date"] or SNAPSHOT_DAY
        product = product_key(row["product"])
        deals.append(
            [
                row["opportunity_id"],
                account_id(row["account"]) if row["account"] else "",
                person_id(row["sales_agent"]),
                "other",
                received,
                stage,
                "",
                row["close_value"],
            ]
        )
        price = row["close_value"] if stage in ("won", "lost") else list_price[product]
        lines.append([row["opportunity_id"], product, "1", price, "", ""])
        changes.append([row["opportunity_id"], "lead", received])
        if stage == "contact":
            changes.append([row["opportunity_id"], "contact", row["engage_date"]])
        elif stage in ("won", "lost"):
            changes.append([row["opportunity_id"], stage, row["close_date"]])
    _write(
        target / "deals.csv",
        [
            "id",
            "client_id",
            "manager_id",
            "channel",
            "received_at",
            "stage",
            "lost_reason",
            "amount",
        ],
        deals,
    )
    _write(
        target / "deal_lines.csv",
        ["deal_id", "product_id", "qty", "price", "cost_price", "list_price"],
        lines,
    )
    _write(target / "stage_changes.csv", ["deal_id", "stage", "changed_at"], changes)
