"""Reads on clients, products, deals and tasks. Every selector takes the viewer and
narrows by ``visible_to``; a missing object and a forbidden one answer the same
(``NotFound``), so ids cannot be probed."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from vrop.core.errors import NotFound
from vrop.core.validators import is_valid_inn
from vrop.crm.choices import OPEN_STAGES
from vrop.crm.models import Client, Deal, Product, Task


@dataclass
class DealFilters:
    q: str = ""
    stage: str = ""
    manager_id: int | None = None
    client_id: int | None = None
    channel: str = ""
    is_open: bool | None = None
    has_flags: bool | None = None


def deal_list(*, viewer, filters: DealFilters | None = None) -> QuerySet[Deal]:
    filters = filters or DealFilters()
    deals = Deal.objects.visible_to(viewer).select_related("client", "manager")
    if filters.q:
        deals = deals.filter(_deal_search(filters.q.strip()))
    if filters.stage:
        deals = deals.filter(stage=filters.stage)
    if filters.manager_id:
        deals = deals.filter(manager_id=filters.manager_id)
    if filters.client_id:
        deals = deals.filter(client_id=filters.client_id)
    if filters.channel:
        deals = deals.filter(channel=filters.channel)
    if filters.is_open is True:
        deals = deals.filter(stage__in=OPEN_STAGES)
    elif filters.is_open is False:
        deals = deals.exclude(stage__in=OPEN_STAGES)
    if filters.has_flags is True:
        deals = deals.exclude(flags={})
    return deals.order_by("-received_at", "-id")


def _deal_search(text: str) -> Q:
    """Search that can use an index: an INN finds the client's deals, a number the deal
    (our id or the source's), anything else the title or the client's name."""
    if text.isdigit() and is_valid_inn(text):
        return Q(client__inn=text)
    if text.isdigit():
        return Q(pk=int(text)) | Q(external_id=text) if int(text) < 2**63 else Q(external_id=text)
    return Q(title__icontains=text) | Q(client__name__icontains=text) | Q(external_id=text)


def deal_get(*, viewer, deal_id: int) -> Deal:
    deal = (
        Deal.objects.visible_to(viewer)
        .select_related("client", "manager")
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        raise NotFound(_("No such deal."))
    return deal


def client_list(
    *, viewer, q: str = "", manager_id: int | None = None, segment: str = ""
) -> QuerySet[Client]:
    clients = (
        Client.objects.visible_to(viewer).select_related("manager").filter(merged_into__isnull=True)
    )
    if q:
        text = q.strip()
        clients = clients.filter(
            Q(name__icontains=text) | Q(inn=text) | Q(phone__icontains=text) | Q(email__iexact=text)
        )
    if manager_id:
        clients = clients.filter(manager_id=manager_id)
    if segment:
        clients = clients.filter(segment=segment)
    return clients.order_by("name", "id")


def client_get(*, viewer, client_id: int) -> Client:
    client = (
        Client.objects.visible_to(viewer).select_related("manager").filter(pk=client_id).first()
    )
    if client is None:
        raise NotFound(_("No such client."))
    return client


def product_list(*, viewer, q: str = "", category: str = "") -> QuerySet[Product]:
    products = Product.objects.visible_to(viewer)
    if q:
        products = products.filter(name__icontains=q.strip())
    if category:
        products = products.filter(category=category)
    return products.order_by("category", "name", "id")


def product_get(*, viewer, product_id: int) -> Product:
    product = Product.objects.visible_to(viewer).filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("No such product."))
    return product


def task_list(
    *,
    viewer,
    deal_id: int | None = None,
    is_open: bool | None = None,
    manager_id: int | None = None,
) -> QuerySet[Task]:
    tasks = Task.objects.visible_to(viewer).select_related("deal", "client", "manager")
    if deal_id:
        tasks = tasks.filter(deal_id=deal_id)
    if is_open is True:
        tasks = tasks.filter(done_at__isnull=True)
    elif is_open is False:
        tasks = tasks.filter(done_at__isnull=False)
    if manager_id:
        tasks = tasks.filter(manager_id=manager_id)
    return tasks.order_by("due_at", "id")


def task_get(*, viewer, task_id: int) -> Task:
    task = Task.objects.visible_to(viewer).select_related("deal").filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("No such task."))
    return task
