"""Importing the exchange format: every object and every denormalised field it keeps,
re-imports, partial imports, zips, flags, history."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DealFactory, ManagerFactory
from tests.integrations.exchange.conftest import BASIC, model_counts, replace_in
from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call
from vrop.crm.models import Client, Deal, DealLine, Product, StageChange, Task
from vrop.integrations.exchange.importer import import_path
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=MSK)
NO_NEXT_STEP = {
    "no_next_step": "У открытой сделки должен быть следующий шаг: добавьте задачу со сроком."
}


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def deal(ident: str) -> Deal:
    return Deal.objects.get(source="exchange", external_id=ident)


def test_basic_import_writes_every_file_and_keeps_the_derived_fields():
    report = import_path(BASIC)

    assert report.ok, report.render()
    assert {name: c.created for name, c in report.counts.items()} == {
        "managers.csv": 3,
        "clients.csv": 3,
        "products.csv": 2,
        "deals.csv": 4,
        "deal_lines.csv": 3,
        "stage_changes.csv": 9,
        "tasks.csv": 3,
        "invoices.csv": 1,
        "payments.csv": 2,
        "shipments.csv": 1,
        "plans.csv": 3,
        "calls.csv": 2,
    }
    ivan = User.objects.get(email="ivan@metall.example")
    oleg = User.objects.get(email="oleg@metall.example")
    assert (ivan.first_name, ivan.last_name, ivan.role, ivan.team.name) == (
        "Иван",
        "Петров",
        "manager",
        "Отдел продаж",
    )
    assert (ivan.source, ivan.external_id, ivan.is_active) == ("exchange", "m2", True)
    assert (oleg.left_on, oleg.is_active, oleg.team) == (dt.date(2026, 6, 30), False, None)
    assert Team.objects.count() == 1

    c1, c2 = Client.objects.get(external_id="c1"), Client.objects.get(external_id="c2")
    assert (c1.name, c1.inn, c1.manager, c1.extra) == (
        'ООО "СтройМет"',
        "7701234560",
        ivan,
        {"crm_note": ""},
    )
    assert (c2.payment_terms_days, c2.credit_limit, c2.extra) == (
        14,
        Decimal("500000.00"),
        {"crm_note": "ключевой, с 2019"},
    )

    d1 = deal("d1")
    assert (d1.amount, d1.cost_amount, d1.list_amount, d1.volume) == (
        Decimal("205000.00"),
        Decimal("186000.00"),
        Decimal("207500.00"),
        Decimal("3.500"),
    )
    assert (d1.stage, d1.stage_changed_at, d1.closed_at) == ("quote", at(2026, 11, 3, 15), None)
    assert (d1.first_contact_at, d1.quote_sent_at) == (at(2026, 11, 2, 10, 25), at(2026, 11, 3, 15))
    assert (d1.contact_reached_at, d1.quote_reached_at, d1.won_reached_at) == (
        at(2026, 11, 2, 10, 25),
        at(2026, 11, 3, 15),
        None,
    )
    assert d1.next_step_at == at(2026, 11, 25, 11)
    assert d1.last_activity_at == at(2026, 11, 3, 14, 55)  # the done task, after the call
    assert d1.flags == {}
    assert list(
        StageChange.objects.filter(deal=d1).values_list("from_stage", "stage", "changed_at")
    ) == [
        ("", "lead", at(2026, 11, 2, 10, 15)),
        ("lead", "contact", at(2026, 11, 2, 10, 25)),
        ("contact", "quote", at(2026, 11, 3, 15)),
    ]
    assert list(
        DealLine.objects.filter(deal=d1).values_list("position", "product__external_id")
    ) == [
        (0, "p1"),
        (1, "p2"),
    ]

    d2 = deal("d2")
    assert (d2.stage, d2.closed_at, d2.first_contact_at, d2.quote_sent_at, d2.amount) == (
        "won",
        at(2026, 10, 23, 16, 40),
        at(2026, 10, 21, 11),
        at(2026, 10, 21, 11),
        Decimal("545000.00"),
    )
    d3 = deal("d3")
    assert (d3.stage, d3.lost_reason, d3.closed_at) == (
        "lost",
        "Дорого,\nушли к конкуренту",
        at(2026, 11, 11, 10),
    )
    d4 = deal("d4")
    assert (d4.client, d4.received_at, d4.amount, d4.stage_changed_at) == (
        None,
        at(2026, 11, 20),
        Decimal("150000.00"),
        at(2026, 11, 20),
    )
    assert d4.flags == NO_NEXT_STEP

    invoice = Invoice.objects.get(external_id="i1")
    assert (invoice.client, invoice.manager, invoice.paid_amount, invoice.paid_on) == (
        c2,
        ivan,
        Decimal("545000.00"),
        dt.date(2026, 11, 5),
    )
    assert set(Payment.objects.values_list("client__external_id", flat=True)) == {"c2"}
    shipment = Shipment.objects.get(external_id="s1")
    assert (shipment.client, shipment.manager, shipment.volume, shipment.is_deferred) == (
        c2,
        ivan,
        Decimal("10.000"),
        True,
    )
    assert Task.objects.get(external_id="t1").client == c1
    assert list(
        Plan.objects.order_by("pk").values_list("manager__email", "team__name", "metric", "target")
    ) == [
        (None, None, "gross_profit", Decimal("1000000.00")),
        ("ivan@metall.example", None, "revenue", Decimal("3000000.00")),
        (None, "Отдел продаж", "revenue", Decimal("5000000.00")),
    ]
    call1, call2 = Call.objects.get(external_id="call1"), Call.objects.get(external_id="call2")
    assert (call1.client, call1.transcript_path, len(call1.transcript)) == (
        c1,
        "transcripts/call1.json",
        3,
    )
    assert call1.transcript[1] == {
        "speaker": "client",
        "start": 4.5,
        "end": 9.8,
        "text": "Здравствуйте, нужна арматура двенадцатая, две с половиной тонны.",
    }
    assert (call2.deal, call2.transcript, call2.transcript_path) == (None, [], "")


def test_importing_the_same_data_twice_changes_nothing_the_second_time():
    assert import_path(BASIC).ok
    before = _snapshot()
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        report = import_path(BASIC)

    assert report.ok
    assert all(c.created == c.updated == c.deleted == 0 for c in report.counts.values())
    assert report.counts["deals.csv"].unchanged == 4
    assert report.counts["stage_changes.csv"].unchanged == 9
    assert _snapshot() == before


def _snapshot() -> dict:
    """Every row of every imported model, including updated_at: what a re-import may not touch."""
    return {
        model._meta.label: sorted(map(repr, model.objects.values_list()))
        for model in (
            User,
            Client,
            Product,
            Deal,
            DealLine,
            StageChange,
            Task,
            Invoice,
            Payment,
            Shipment,
            Plan,
            Call,
        )  # fmt: skip
    }


def test_a_changed_row_is_updated_and_the_totals_follow(basic_copy):
    assert import_path(BASIC).ok
    d1_created = deal("d1").created_at
    replace_in(basic_copy / "clients.csv", 'c1,"ООО ""СтройМет"""', "c1,ООО СтройМет-2")
    replace_in(basic_copy / "deal_lines.csv", "d1,p2,1.000", "d1,p2,2.000")
    replace_in(
        basic_copy / "payments.csv", "pay2,i1,2026-11-05,245000.00", "pay2,i1,2026-11-05,5000.00"
    )

    report = import_path(basic_copy)

    assert report.ok, report.render()
    assert (report.counts["clients.csv"].updated, report.counts["clients.csv"].unchanged) == (1, 2)
    lines = report.counts["deal_lines.csv"]
    assert (lines.created, lines.deleted, lines.unchanged) == (2, 2, 1)
    d1 = deal("d1")
    assert (d1.amount, d1.cost_amount, d1.volume, d1.created_at) == (
        Decimal("272500.00"),
        Decimal("247000.00"),
        Decimal("4.500"),
        d1_created,
    )
    assert Client.objects.get(external_id="c1").name == "ООО СтройМет-2"
    invoice = Invoice.objects.get(external_id="i1")
    assert (invoice.paid_amount, invoice.paid_on) == (Decimal("305000.00"), None)
    assert Deal.objects.count() == 4


def test_partial_import_refers_to_objects_already_in_the_database(tmp_path):
    assert import_path(BASIC).ok
    (tmp_path / "managers.csv").write_text(
        "id,name,email,role,team,hired_on,left_on\n"
        "m9,Пётр Новиков,petr@metall.example,manager,,2026-11-01,\n",
        encoding="utf-8",
    )
    (tmp_path / "deals.csv").write_text(
        "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
        "d5,c2,m9,phone,2026-11-21T10:00:00,contact,,12000\n",
        encoding="utf-8",
    )
    (tmp_path / "tasks.csv").write_text(
        "id,deal_id,manager_id,title,due_at,done_at\n"
        "t9,d5,,Перезвонить,2026-11-24T10:00:00+03:00,\n",
        encoding="utf-8",
    )

    report = import_path(tmp_path)

    assert report.ok, report.render()
    d5 = deal("d5")
    assert (d5.client.external_id, d5.manager.email, d5.received_at) == (
        "c2",
        "petr@metall.example",
        at(2026, 11, 21, 10),  # a time without an offset is company time
    )
    # no stage_changes.csv: the lead row at received_at and the current stage now
    assert list(
        StageChange.objects.filter(deal=d5).values_list("from_stage", "stage", "changed_at")
    ) == [
        ("", "lead", at(2026, 11, 21, 10)),
        ("lead", "contact", NOW),
    ]
    assert (d5.stage_changed_at, d5.first_contact_at, d5.next_step_at, d5.flags) == (
        NOW,
        NOW,
        at(2026, 11, 24, 10),
        {},
    )
    assert Task.objects.get(external_id="t9").manager.email == "petr@metall.example"
    assert User.objects.count() == 4
    assert Client.objects.count() == 3


def test_a_zip_imports_like_the_folder(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(BASIC.rglob("*")):
            if path.is_file():
                zipped.write(path, "export/" + path.relative_to(BASIC).as_posix())

    report = import_path(archive)

    assert report.ok, report.render()
    assert sum(c.created for c in report.counts.values()) == 36
    assert len(Call.objects.get(external_id="call1").transcript) == 3


def test_an_open_deal_without_a_task_is_flagged_and_the_flag_clears_when_it_gets_one(basic_copy):
    report = import_path(basic_copy)
    assert report.flagged_deals == 1
    assert deal("d4").flags == NO_NEXT_STEP
    assert deal("d1").flags == {}
    with open(basic_copy / "tasks.csv", "a", encoding="utf-8") as tasks:
        tasks.write("t4,d4,m1,Квалифицировать заявку,2026-11-24T10:00:00+03:00,\n")

    report = import_path(basic_copy)

    assert report.ok and report.flagged_deals == 0
    assert deal("d4").flags == {}
    assert deal("d4").next_step_at == at(2026, 11, 24, 10)


def test_dry_run_checks_and_writes_nothing():
    before = model_counts()

    report = import_path(BASIC, dry_run=True)

    assert report.ok and not report.written
    assert report.counts["deals.csv"].created == 4
    assert model_counts() == before


def test_an_app_object_exported_as_vrop_id_is_found_again(tmp_path):
    manager = ManagerFactory(email="sergey@metall.example", username="sergey@metall.example")
    app_deal = DealFactory(manager=manager, client__manager=manager, stage="won")
    (tmp_path / "managers.csv").write_text(
        "id,name,email,role,team,hired_on,left_on\n"
        f"vrop-{manager.pk},Сергей Орлов,sergey@metall.example,manager,,,\n",
        encoding="utf-8",
    )
    (tmp_path / "deals.csv").write_text(
        "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
        f"vrop-{app_deal.pk},vrop-{app_deal.client_id},vrop-{manager.pk},phone,"
        "2026-11-01T10:00:00+03:00,won,,777.00\n",
        encoding="utf-8",
    )

    report = import_path(tmp_path)

    assert report.ok, report.render()
    assert (report.counts["deals.csv"].created, report.counts["deals.csv"].updated) == (0, 1)
    app_deal.refresh_from_db()
    manager.refresh_from_db()
    assert (app_deal.source, app_deal.external_id, app_deal.amount) == ("", "", Decimal("777.00"))
    assert (manager.source, manager.external_id, manager.last_name) == ("", "", "Орлов")
    assert Deal.objects.count() == 1


def test_paid_on_is_when_the_running_total_reached_the_amount_for_good(basic_copy):
    (basic_copy / "payments.csv").write_text(
        "id,invoice_id,paid_on,amount\n"
        "pay1,i1,2026-11-01,300000.00\n"
        "pay3,i1,2026-11-06,-50000.00\n"
        "pay2,i1,2026-11-05,245000.00\n"
        "pay4,i1,2026-11-08,50000.00\n",
        encoding="utf-8",
    )

    report = import_path(basic_copy)

    assert report.ok, report.render()
    invoice = Invoice.objects.get(external_id="i1")
    # covered on 11-05, short again after the refund on 11-06, covered for good on 11-08
    assert (invoice.paid_amount, invoice.paid_on) == (Decimal("545000.00"), dt.date(2026, 11, 8))


def test_lines_and_history_in_any_row_order_are_the_same_lists(basic_copy):
    assert import_path(BASIC).ok
    before = {
        "lines": list(DealLine.objects.order_by("deal_id", "position").values_list(
            "deal__external_id", "position", "product__external_id", "qty")),
        "history": sorted(StageChange.objects.values_list(
            "deal__external_id", "from_stage", "stage", "changed_at")),
    }  # fmt: skip
    (basic_copy / "deal_lines.csv").write_text(
        "deal_id,product_id,qty,price,cost_price,list_price\n"
        "d1,p1,2.500,55000.00,50000.00,56000.00\n"
        "d2,p1,10.000,54500.00,50000.00,56000.00\n"
        "d1,p2,1.000,67500.00,61000.00,67500.00\n",
        encoding="utf-8",
    )
    (basic_copy / "stage_changes.csv").write_text(
        "deal_id,stage,changed_at\n"
        "d2,won,2026-10-23T16:40:00+03:00\n"
        "d1,quote,2026-11-03T15:00:00+03:00\n"
        "d2,lead,2026-10-20T09:00:00+03:00\n"
        "d1,lead,2026-11-02T10:15:00+03:00\n"
        "d3,lost,2026-11-11T10:00:00+03:00\n"
        "d2,quote,2026-10-21T11:00:00+03:00\n"
        "d1,contact,2026-11-02T10:25:00+03:00\n"
        "d3,lead,2026-11-10T12:30:00+03:00\n"
        "d4,lead,2026-11-20\n",
        encoding="utf-8",
    )

    report = import_path(basic_copy)

    assert report.ok, report.render()
    lines, history = report.counts["deal_lines.csv"], report.counts["stage_changes.csv"]
    assert (lines.created, lines.deleted, lines.unchanged) == (0, 0, 3)
    assert (history.created, history.deleted, history.unchanged) == (0, 0, 9)
    after = {
        "lines": list(DealLine.objects.order_by("deal_id", "position").values_list(
            "deal__external_id", "position", "product__external_id", "qty")),
        "history": sorted(StageChange.objects.values_list(
            "deal__external_id", "from_stage", "stage", "changed_at")),
    }  # fmt: skip
    assert after == before


def test_a_team_plan_is_its_own_plan_and_a_reimport_updates_it(basic_copy):
    assert import_path(basic_copy).ok
    plans = basic_copy / "plans.csv"
    replace_in(plans, "Отдел продаж,revenue,5000000.00", "Отдел продаж,revenue,5500000.00")

    report = import_path(basic_copy)

    assert report.ok, report.render()
    counts = report.counts["plans.csv"]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 2)
    team_plan = Plan.objects.get(team__name="Отдел продаж")
    assert (team_plan.manager, team_plan.metric, team_plan.target) == (
        None,
        "revenue",
        Decimal("5500000.00"),
    )
    # the company's plan on the same metric and period is another plan, unchanged
    assert Plan.objects.filter(team=None, manager=None).count() == 1


def test_a_plan_for_an_unknown_team_or_for_a_manager_and_a_team_is_refused(basic_copy):
    plans = basic_copy / "plans.csv"
    replace_in(plans, ",Отдел продаж,revenue", ",Отдел закупок,revenue")
    with plans.open("a", encoding="utf-8") as handle:
        handle.write("2026-12-01,2026-12-31,m2,Отдел продаж,revenue,100.00\n")
    before = model_counts()

    report = import_path(basic_copy)

    assert not report.ok
    assert [(e.file, e.line, e.column) for e in report.errors] == [
        ("plans.csv", 4, "team"),
        ("plans.csv", 5, ""),
    ]
    assert "Отдел закупок" in report.errors[0].reason
    assert report.errors[1].reason == (
        "План ставится менеджеру, отделу или всей компании, но не менеджеру и отделу сразу."
    )
    assert model_counts() == before
