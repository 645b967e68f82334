"""Real data: the Maven "CRM Sales Opportunities" files (8,800 opportunities) converted
into the exchange format, imported, and checked against sums computed from the source
files themselves."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from tests.conftest import need_service
from tests.integrations.exchange import maven
from vrop.crm.models import Client, Deal, DealLine, Product
from vrop.integrations.exchange.importer import import_path

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
MAVEN = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "datasets"
    / "maven_crm_sales_opportunities"
)


@pytest.fixture
def maven_folder(tmp_path) -> Path:
    if not (MAVEN / "sales_pipeline.csv").exists():
        need_service(f"the Maven dataset is not at {MAVEN}")
    folder = tmp_path / "maven"
    maven.convert(MAVEN, folder)
    return folder


def _source_pipeline() -> list[dict[str, str]]:
    with open(MAVEN / "sales_pipeline.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_maven_won_amounts_per_agent_and_month_match_the_source(maven_folder):
    pipeline = _source_pipeline()
    won_by_agent: dict[str, Decimal] = defaultdict(Decimal)
    won_by_month: dict[str, Decimal] = defaultdict(Decimal)
    for row in pipeline:
        if row["deal_stage"] == "Won":
            won_by_agent[f"{maven.person_id(row['sales_agent'])}@maven.example"] += Decimal(
                row["close_value"]
            )
            won_by_month[row["close_date"][:7]] += Decimal(row["close_value"])

    with time_machine.travel(dt.datetime(2026, 11, 23, 12, tzinfo=MSK), tick=False):
        report = import_path(maven_folder)

    assert report.ok, report.render()
    assert report.counts["deals.csv"].created == len(pipeline) == 8800
    won = Deal.objects.filter(stage="won")
    by_agent = {
        row["manager__email"]: row["total"]
        for row in won.values("manager__email").annotate(total=Sum("amount"))
    }
    by_month = {
        row["month"].strftime("%Y-%m"): row["total"]
        for row in won.annotate(month=TruncMonth("closed_at", tzinfo=MSK))
        .values("month")
        .annotate(total=Sum("amount"))
    }
    assert by_agent == dict(won_by_agent)
    assert by_month == dict(won_by_month)
    assert len(by_agent) == 30 and len(by_month) == 10  # 2017-03 … 2017-12
    # open deals have no next step in the data: each is flagged for it, the closed ones not
    open_count = sum(1 for row in pipeline if row["deal_stage"] in ("Prospecting", "Engaging"))
    no_next_step = [
        pk for pk, flags in Deal.objects.values_list("pk", "flags") if "no_next_step" in flags
    ]
    assert len(no_next_step) == open_count == 2089
    assert (
        Deal.objects.filter(pk__in=no_next_step, stage__in=["lead", "contact", "quote"]).count()
        == open_count
    )
    # won deals sold more than 3 % under list without an approval are flagged by the price rule
    list_prices = {
        maven.product_key(row["product"]): Decimal(row["sales_price"])
        for row in csv.DictReader((MAVEN / "products.csv").open(encoding="utf-8"))
    }
    won_under_ladder = {
        row["opportunity_id"]
        for row in pipeline
        if row["deal_stage"] == "Won"
        and Decimal(row["close_value"]) * 100 < list_prices[maven.product_key(row["product"])] * 97
    }
    approval_flagged = set(
        Deal.objects.filter(flags__has_key="approval_required").values_list(
            "external_id", flat=True
        )
    )
    assert approval_flagged  # the price rule flags, it does not refuse, on import
    assert approval_flagged <= won_under_ladder
    assert not Deal.objects.filter(flags__has_key="approval_required").exclude(stage="won").exists()
    assert report.flagged_deals == open_count + len(approval_flagged)


def test_maven_products_spelled_differently_are_one_product(maven_folder):
    report = import_path(maven_folder)

    assert report.ok, report.render()
    source = Counter(
        maven.product_key(row["product"]) for row in _source_pipeline()
    )  # "GTXPro" and "GTX Pro" count as one
    assert Product.objects.count() == 7
    lines = dict(
        DealLine.objects.values("product__external_id")
        .annotate(n=Sum("qty"))
        .values_list("product__external_id", "n")
    )
    assert lines == {key: Decimal(count) for key, count in source.items()}
    assert lines["gtxpro"] == Decimal(1480)
    assert Product.objects.get(external_id="gtxpro").name == "GTX Pro"
    acme = Client.objects.get(name="Acme Corporation")
    assert (acme.segment, acme.extra["year_established"], acme.extra["employees"]) == (
        "technolgy",
        "1996",
        "2822",
    )
    assert Deal.objects.filter(client__isnull=True).count() == 1425


def test_maven_reimport_changes_nothing(maven_folder):
    assert import_path(maven_folder).ok

    report = import_path(maven_folder)

    assert report.ok
    assert {name: (c.created, c.updated, c.deleted) for name, c in report.counts.items()} == {
        name: (0, 0, 0) for name in report.counts
    }
    assert report.counts["deal_lines.csv"].unchanged == 8800
