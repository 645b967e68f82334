"""Credit rules registered on the service events (see vrop.core.rulebook).

- "deal.won": a client on stop (set, or overdue beyond the stop threshold) or exposure
  over the limit refuses the win.
- "shipment.create": a shipment on deferral is refused for a client on stop or
  prepayment only, without deferral terms and a limit, with an invoice overdue beyond
  the shipment threshold, or over the limit.
- "deal.invoice": an invoice may not give more deferral than the client's terms.
- "deal.save", set-based only: imports and syncs flag the recently won deals of clients
  the credit rules stop (the per-deal function does nothing: other paths are judged on
  "deal.won").
- set-based variants of the first three (imports flag, see ``rulebook.evaluate_bulk``):
  what they refuse, for deals won, invoices issued and shipments made in the last 30
  days (older history is not judged against today's credit state).
- "client.save": payment terms and the credit limit change only by those who may set
  credit (the CRM's client form is not a back door); their change there is logged in
  the credit history too.
An owner's granted override of the deal lets it through the first three.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.visibility import can
from vrop.core.rulebook import Violation, rule
from vrop.receivables.rules import invoice_refusals, shipment_refusals, won_refusals


def _moment(value) -> object:
    today = timezone.localdate()
    if value is None:
        return today
    day = timezone.localdate(value) if hasattr(value, "hour") else value
    return min(day, today)


@rule("deal.won")  # its set-based variant: ``credit_on_import_bulk``, registered below
def credit_on_won(deal, *, actor, context) -> list[Violation]:
    from vrop.receivables.selectors import client_credit_facts, credit_policy, override_active

    if deal.client_id is None or override_active(deal) is not None:
        return []
    facts = client_credit_facts(client=deal.client, deal=deal, at=_moment(deal.stage_changed_at))
    return won_refusals(facts, credit_policy())


@rule("shipment.create", bulk=lambda shipments: credit_on_shipment_bulk(shipments))
def credit_on_shipment(shipment, *, actor, context) -> list[Violation]:
    from vrop.receivables.selectors import client_credit_facts, credit_policy, override_active

    if not shipment.is_deferred or shipment.client_id is None:
        return []
    if override_active(shipment.deal) is not None:
        return []
    facts = client_credit_facts(
        client=shipment.client, deal=shipment.deal, at=_moment(shipment.shipped_on)
    )
    return shipment_refusals(facts, credit_policy())


@rule("deal.invoice", bulk=lambda deals: credit_on_invoice_bulk(deals))
def credit_on_invoice(deal, *, actor, context) -> list[Violation]:
    from vrop.receivables.selectors import client_credit_facts, credit_policy, override_active

    invoice = context.get("invoice")
    if invoice is None or invoice.client_id is None or invoice.due_on <= invoice.issued_on:
        return []
    if override_active(deal) is not None:
        return []
    facts = client_credit_facts(client=invoice.client, at=_moment(invoice.issued_on))
    return invoice_refusals(
        facts, credit_policy(), issued_on=invoice.issued_on, due_on=invoice.due_on
    )


CREDIT_FIELDS = ("payment_terms_days", "credit_limit", "credit_status", "credit_status_reason")


@rule("client.save")
def credit_fields_guarded(client, *, actor, context) -> list[Violation]:
    """Terms and limit change only by those who set credit; their change through the CRM's
    client form is written to the credit history like ``client_credit_set`` does."""
    if actor is None:
        return []
    if context.get("created"):
        # A new client starts on prepayment unless someone who sets credit gives terms.
        gives_credit = client.payment_terms_days > 0 or client.credit_limit > 0
        if not gives_credit or can(actor, "change", "client_credit"):
            return []
        return [
            Violation(
                "credit_terms_protected",
                _("Only finance, the head of sales or the owner change payment terms and limits."),
            )
        ]
    previous = client.history.order_by("-history_date", "-history_id")[1:2].first()
    if previous is None:
        return []
    if all(getattr(previous, name) == getattr(client, name) for name in CREDIT_FIELDS):
        return []
    if can(actor, "change", "client_credit"):
        from vrop.receivables.models import CreditChange

        CreditChange.objects.create(
            client=client,
            payment_terms_days=client.payment_terms_days,
            credit_limit=client.credit_limit,
            credit_status=client.credit_status,
            reason=client.credit_status_reason,
            previous={
                "payment_terms_days": previous.payment_terms_days,
                "credit_limit": str(previous.credit_limit),
                "credit_status": previous.credit_status,
                "credit_status_reason": previous.credit_status_reason,
            },
            changed_by=actor,
            changed_at=timezone.now(),
        )
        return []
    return [
        Violation(
            "credit_terms_protected",
            _("Only finance, the head of sales or the owner change payment terms and limits."),
        )
    ]


IMPORT_WINDOW_DAYS = 30


def _import_credit_facts(client_ids) -> dict:
    """Today's credit facts of these clients, in a few grouped queries (for the set-based
    variants below)."""
    from vrop.crm.models import Client
    from vrop.receivables.models import Invoice
    from vrop.receivables.rules import CreditFacts
    from vrop.receivables.selectors import exposure_by_client

    client_ids = sorted(set(client_ids))
    if not client_ids:
        return {}
    today = timezone.localdate()
    parts = exposure_by_client(client_ids)
    oldest: dict[int, tuple] = {}
    for client_id, due_on, number in (
        Invoice.objects.filter(client_id__in=client_ids, due_on__lt=today, paid_on__isnull=True)
        .order_by("client_id", "due_on", "id")
        .values_list("client_id", "due_on", "number")
    ):
        oldest.setdefault(client_id, (due_on, number))
    facts = {}
    clients = Client.objects.filter(pk__in=client_ids).values_list(
        "pk", "name", "payment_terms_days", "credit_limit", "credit_status", "credit_status_reason"
    )  # values, not objects: thousands of clients on a large import
    for pk, name, terms, limit, status, reason in clients:
        part = parts[pk]
        due, number = oldest.get(pk, (None, ""))
        facts[pk] = CreditFacts(
            client_name=name,
            payment_terms_days=terms,
            credit_limit=limit,
            credit_status=status,
            credit_status_reason=reason,
            exposure=part["unpaid"] + part["won_not_invoiced"] - part["advances"],
            oldest_overdue_days=(today - due).days if due else 0,
            oldest_overdue_number=number,
        )
    return facts


def _overridden(deal_ref: str = "pk", amount_ref: str = "amount"):
    from django.db.models import Exists, OuterRef

    from vrop.receivables.choices import OverrideStatus
    from vrop.receivables.models import CreditOverride

    return Exists(
        CreditOverride.objects.filter(
            deal_id=OuterRef(deal_ref),
            status=OverrideStatus.GRANTED,
            deal_amount__gte=OuterRef(amount_ref),
        )
    )


def credit_on_import_bulk(deals) -> dict:
    """Imports and syncs: the deals won in the last 30 days whose client the credit rules
    stop now (on stop, overdue beyond the threshold, or over the limit on deferral) are
    flagged. Older history is not judged against today's credit state."""
    from datetime import timedelta

    from vrop.crm.choices import Stage
    from vrop.receivables.rules import won_refusals
    from vrop.receivables.selectors import credit_policy

    since = timezone.now() - timedelta(days=IMPORT_WINDOW_DAYS)
    won = list(
        deals.filter(stage=Stage.WON, client__isnull=False, stage_changed_at__gte=since)
        .exclude(_overridden())
        .values_list("pk", "client_id")
        .iterator(chunk_size=5000)
    )
    policy = credit_policy()
    refusals: dict[int, list[Violation]] = {}
    for client_id, facts in _import_credit_facts(c for _pk, c in won).items():
        found = won_refusals(facts, policy)
        if found:
            refusals[client_id] = found
    return {pk: refusals[client_id] for pk, client_id in won if client_id in refusals}


def credit_on_invoice_bulk(deals) -> dict:
    """Imports: invoices of these deals issued in the last 30 days that give more deferral
    than the client's credit allows today flag their deal (as ``credit_on_invoice``)."""
    from datetime import timedelta

    from django.db.models import F

    from vrop.receivables.models import Invoice
    from vrop.receivables.rules import invoice_refusals
    from vrop.receivables.selectors import credit_policy

    since = timezone.localdate() - timedelta(days=IMPORT_WINDOW_DAYS)
    invoices = list(
        Invoice.objects.filter(
            deal__in=deals.values("pk"),
            client__isnull=False,
            due_on__gt=F("issued_on"),
            issued_on__gte=since,
        )
        .exclude(_overridden("deal_id", "deal__amount"))
        .order_by("deal_id", "issued_on", "id")
        .values_list("deal_id", "client_id", "issued_on", "due_on")
    )
    facts = _import_credit_facts(client_id for _d, client_id, _i, _u in invoices)
    policy = credit_policy()
    result: dict[int, list[Violation]] = {}
    for deal_id, client_id, issued_on, due_on in invoices:
        found = invoice_refusals(facts[client_id], policy, issued_on=issued_on, due_on=due_on)
        if found and deal_id not in result:
            result[deal_id] = found
    return result


def credit_on_shipment_bulk(shipments) -> dict:
    """Imports: shipments on deferral of the last 30 days that the credit rules stop
    today, per shipment (as ``credit_on_shipment``)."""
    from datetime import timedelta

    from vrop.receivables.rules import shipment_refusals
    from vrop.receivables.selectors import credit_policy

    since = timezone.localdate() - timedelta(days=IMPORT_WINDOW_DAYS)
    rows = list(
        shipments.filter(is_deferred=True, client__isnull=False, shipped_on__gte=since)
        .exclude(_overridden("deal_id", "deal__amount"))
        .values_list("pk", "client_id")
        .iterator(chunk_size=5000)
    )
    facts = _import_credit_facts(client_id for _pk, client_id in rows)
    policy = credit_policy()
    refusals = {client_id: shipment_refusals(f, policy) for client_id, f in facts.items()}
    return {pk: refusals[client_id] for pk, client_id in rows if refusals.get(client_id)}


# the same variant for both events, so that an import runs it once for both
# (``rulebook.evaluate_bulk_events``)
rule("deal.won", bulk=credit_on_import_bulk)(credit_on_won)


@rule("deal.save", bulk=credit_on_import_bulk)
def credit_on_import(deal, *, actor, context) -> list[Violation]:
    """Only the set-based variant does anything (imports flag); every other path is judged
    when the deal is won, by ``credit_on_won``."""
    return []
