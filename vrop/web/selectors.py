"""Reads that compose a page from several apps; every query is narrowed by the viewer's
visibility (``visible_to``), and a deal or client the viewer may not see is not found."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.crm import selectors as crm_selectors
from vrop.crm.models import Activity, Client, Deal, DealLine, StageChange, Task
from vrop.receivables.models import Invoice, Payment

RELATED_LIMIT = 50


@dataclass
class DealPage:
    deal: Deal
    lines: list[DealLine]
    stage_changes: list[StageChange]
    open_tasks: list[Task]
    done_tasks: list[Task]
    activities: list[Activity]
    invoices: list[Invoice]
    flags: dict = field(default_factory=dict)
    volume_unit: str = ""  # the lines' unit when they share one


def deal_tasks(*, viewer, deal: Deal) -> tuple[list[Task], list[Task]]:
    tasks = list(
        Task.objects.visible_to(viewer)
        .filter(deal=deal)
        .select_related("manager")
        .order_by("done_at", "due_at", "id")[: RELATED_LIMIT * 2]
    )
    open_tasks = [t for t in tasks if t.done_at is None]
    done_tasks = sorted((t for t in tasks if t.done_at), key=lambda t: t.done_at, reverse=True)
    return open_tasks, done_tasks[:RELATED_LIMIT]


def deal_activities(*, viewer, deal: Deal) -> list[Activity]:
    return list(
        Activity.objects.visible_to(viewer)
        .filter(deal=deal)
        .select_related("user")
        .order_by("-occurred_at", "-id")[:RELATED_LIMIT]
    )


def invoices_with_payments(*, viewer, **where) -> list[Invoice]:
    """The viewer's invoices matching ``where``, each with ``visible_payments``."""
    payments = Payment.objects.visible_to(viewer).order_by("paid_on", "id")
    return list(
        Invoice.objects.visible_to(viewer)
        .filter(**where)
        .select_related("deal")
        .prefetch_related(Prefetch("payments", queryset=payments, to_attr="visible_payments"))
        .order_by("-issued_on", "-id")[:RELATED_LIMIT]
    )


def _common_unit(lines: list[DealLine]) -> str:
    units = {line.product.get_unit_display() for line in lines}
    return units.pop() if len(units) == 1 else ""


def deal_page(*, viewer, deal_id: int) -> DealPage:
    """Everything the deal page shows; ``NotFound`` when the viewer may not see the deal."""
    deal = crm_selectors.deal_get(viewer=viewer, deal_id=deal_id)
    lines = list(deal.lines.select_related("product").order_by("position", "id"))
    stage_changes = list(
        StageChange.objects.filter(deal=deal)
        .select_related("changed_by")
        .order_by("changed_at", "id")
    )
    open_tasks, done_tasks = deal_tasks(viewer=viewer, deal=deal)
    invoices = invoices_with_payments(viewer=viewer, deal=deal)
    return DealPage(
        deal=deal,
        lines=lines,
        stage_changes=stage_changes,
        open_tasks=open_tasks,
        done_tasks=done_tasks,
        activities=deal_activities(viewer=viewer, deal=deal),
        invoices=invoices,
        flags=dict(deal.flags or {}),
        volume_unit=_common_unit(lines),
    )


@dataclass
class ClientPage:
    client: Client
    contacts: list
    deals: list[Deal]
    invoices: list[Invoice]


def client_page(*, viewer, client_id: int) -> ClientPage:
    client = crm_selectors.client_get(viewer=viewer, client_id=client_id)
    deals = list(
        crm_selectors.deal_list(
            viewer=viewer, filters=crm_selectors.DealFilters(client_id=client.pk)
        )[:RELATED_LIMIT]
    )
    invoices = invoices_with_payments(viewer=viewer, client=client)
    return ClientPage(
        client=client,
        contacts=list(client.contacts.order_by("name", "id")),
        deals=deals,
        invoices=invoices,
    )


def manager_choices() -> list[User]:
    """People who own deals and clients (for filters and the deal form)."""
    return list(
        User.objects.filter(role__in=[Role.MANAGER, Role.HEAD], is_active=True)
        .order_by("last_name", "first_name", "id")
        .only("id", "first_name", "last_name", "username", "role")
    )
