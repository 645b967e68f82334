"""The admin of receivables: read-only, like the CRM's.

Invoices, payments and shipments, credit terms, overrides and overdue actions are
written only by ``vrop.receivables.services``, where the credit rules hold (no shipment
on deferral while overdue, the owner for exposure over the limit): the admin is one of
the paths, so it shows these records and refuses to add, change or delete them (403).
"""

from __future__ import annotations

from django.contrib import admin

from vrop.crm.admin import ReadOnlyAdmin
from vrop.receivables.models import (
    CreditChange,
    CreditOverride,
    Invoice,
    OverdueAction,
    Payment,
    PaymentImport,
    Shipment,
)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "client", "manager", "issued_on", "due_on", "amount", "paid_amount")
    list_filter = ("paid_on",)
    search_fields = ("number", "client__name", "client__inn", "external_id")
    list_select_related = ("client", "manager")
    show_full_result_count = False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("paid_on", "amount", "invoice", "client", "payer_inn", "source")
    search_fields = ("invoice__number", "payer_inn", "purpose", "external_id")
    list_select_related = ("invoice", "client")
    show_full_result_count = False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ("shipped_on", "deal", "client", "amount", "cost", "is_deferred")
    list_select_related = ("deal", "client")
    show_full_result_count = False


@admin.register(CreditChange)
class CreditChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "changed_at",
        "client",
        "payment_terms_days",
        "credit_limit",
        "credit_status",
        "changed_by",
        "reason",
    )
    list_select_related = ("client", "changed_by")

    def get_queryset(self, request):
        from vrop.crm.models import Client

        return admin.ModelAdmin.get_queryset(self, request).filter(
            client__in=Client.objects.visible_to(request.user).values("pk")
        )


@admin.register(CreditOverride)
class CreditOverrideAdmin(ReadOnlyAdmin):
    list_display = (
        "requested_at",
        "deal",
        "status",
        "requested_by",
        "decided_by",
        "channel",
        "decision_reason",
    )
    list_filter = ("status", "channel")
    list_select_related = ("deal", "requested_by", "decided_by")


@admin.register(OverdueAction)
class OverdueActionAdmin(ReadOnlyAdmin):
    list_display = ("done_at", "invoice", "kind", "done_by", "promised_on", "promise_status")
    list_filter = ("kind", "promise_status")
    list_select_related = ("invoice", "done_by")


@admin.register(PaymentImport)
class PaymentImportAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "file_name", "rows_total", "rows_applied", "rows_to_confirm")

    def get_queryset(self, request):
        from vrop.accounts.visibility import can

        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if can(request.user, "change", "payment") else queryset.none()
