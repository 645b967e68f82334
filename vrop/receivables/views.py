"""Receivables pages: ageing and the overdue list, work on one debt, client credit, a deal's
credit check with the override, the owner's decisions, bank statements to confirm.

Views parse, call one selector or service, render; a refusal (``ServiceError``) is shown
with its message and nothing is changed. Objects the viewer may not see answer 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.errors import NotFound, ServiceError
from vrop.receivables import selectors, services
from vrop.receivables.choices import DecisionChannel, OverrideStatus, RowStatus
from vrop.receivables.forms import (
    CreditForm,
    DecisionForm,
    OverdueActionForm,
    ReasonForm,
    ReceivablesFilterForm,
    RowConfirmForm,
    StatementForm,
)
from vrop.receivables.models import Invoice, PaymentImport, PaymentImportRow
from vrop.web.pagination import page_from_request

OVERDUE_ORDERING = ["due_on", "id"]


def require(user, action: str, kind: str) -> None:
    if not can(user, action, kind):
        raise PermissionDenied


def found(function, **kwargs):
    try:
        return function(**kwargs)
    except NotFound:
        raise Http404


class ReceivablesView(LoginRequiredMixin, View):
    """Ageing (total and by client or manager) and the overdue debts with their actions."""

    def get(self, request):
        require(request.user, "view", "invoice")
        user = request.user
        managers = None
        if not user.is_manager:
            managers = User.objects.active_staff().filter(role=Role.MANAGER)
        form = ReceivablesFilterForm(request.GET or None, managers=managers)
        filters = form.cleaned_data if form.is_valid() else {}
        manager = filters.get("manager")
        manager_id = manager.pk if manager else None
        group = filters.get("group") or "client"
        today = timezone.localdate()
        overdue = selectors.overdue_list(
            viewer=user, at=today, manager_id=manager_id, bucket=filters.get("bucket") or None
        )
        page = page_from_request(request, overdue, ordering=OVERDUE_ORDERING)
        return render(
            request,
            "receivables/receivables.html",
            {
                "form": form,
                "today": today,
                "ageing": selectors.receivables_ageing(
                    viewer=user, at=today, manager_id=manager_id
                ),
                "groups": selectors.receivables_ageing(
                    viewer=user, at=today, group_by=group, manager_id=manager_id, limit=50
                ),
                "group": group,
                "page": page,
                "can_act": can(user, "change", "activity"),
                "near_limit": selectors.clients_near_limit(viewer=user)[:20],
                "rows_to_confirm": selectors.payment_rows_to_confirm(viewer=user).count(),
                "overrides_pending": selectors.credit_override_list(
                    viewer=user, status=OverrideStatus.PENDING
                ).count(),
            },
        )


class InvoiceActionsView(LoginRequiredMixin, View):
    """One debt: the invoice, what was done about it, and a form for the next action."""

    def _render(self, request, invoice: Invoice, form: OverdueActionForm, status: int = 200):
        return render(
            request,
            "receivables/invoice_actions.html",
            {
                "invoice": invoice,
                "days_overdue": (timezone.localdate() - invoice.due_on).days,
                "actions": selectors.overdue_action_list(viewer=request.user, invoice=invoice),
                "form": form,
                "can_act": can(request.user, "change", "activity") and invoice.paid_on is None,
            },
            status=status,
        )

    def get(self, request, invoice_id: int):
        require(request.user, "view", "invoice")
        invoice = found(selectors.invoice_get, viewer=request.user, invoice_id=invoice_id)
        form = OverdueActionForm(initial={"responsible": request.user.pk})
        return self._render(request, invoice, form)

    def post(self, request, invoice_id: int):
        require(request.user, "change", "activity")
        invoice = found(selectors.invoice_get, viewer=request.user, invoice_id=invoice_id)
        form = OverdueActionForm(request.POST)
        if not form.is_valid():
            return self._render(request, invoice, form, status=422)
        data = form.cleaned_data
        try:
            services.overdue_action_add(
                actor=request.user,
                invoice=invoice,
                kind=data["kind"],
                note=data["note"],
                promised_on=data["promised_on"],
                promised_amount=data["promised_amount"],
                next_action=data["next_action"],
                next_action_on=data["next_action_on"],
                responsible=data["responsible"],
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self._render(request, invoice, form, status=422)
        messages.success(request, _("The action is recorded."))
        return redirect("invoice-actions", invoice_id=invoice.pk)


class ClientCreditView(LoginRequiredMixin, View):
    """A client's terms, limit and status with its history; exposure and payment habits."""

    def _render(self, request, client_id: int, form=None, status: int = 200):
        data = found(selectors.client_credit_get, viewer=request.user, client_id=client_id)
        client = data["client"]
        may_set = can(request.user, "change", "client_credit")
        if form is None and may_set:
            form = CreditForm(
                initial={
                    "payment_terms_days": client.payment_terms_days,
                    "credit_limit": client.credit_limit,
                    "credit_status": client.credit_status,
                }
            )
        profile = selectors.client_payment_discipline(
            viewer=request.user, client_ids=[client.pk]
        ).get(client.pk)
        return render(
            request,
            "receivables/client_credit.html",
            {**data, "form": form, "may_set": may_set, "profile": profile},
            status=status,
        )

    def get(self, request, client_id: int):
        require(request.user, "view", "client")
        return self._render(request, client_id)

    def post(self, request, client_id: int):
        require(request.user, "change", "client_credit")
        data = found(selectors.client_credit_get, viewer=request.user, client_id=client_id)
        form = CreditForm(request.POST)
        if not form.is_valid():
            return self._render(request, client_id, form, status=422)
        try:
            services.client_credit_set(
                actor=request.user, client=data["client"], **form.cleaned_data
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self._render(request, client_id, form, status=422)
        messages.success(request, _("Credit terms are saved."))
        return redirect("client-credit", client_id=client_id)


class DealCreditView(LoginRequiredMixin, View):
    """What the credit rules say about a deal, and its override: asked for, or the owner's."""

    def _render(self, request, deal_id: int, form=None, status: int = 200):
        check = found(selectors.deal_credit_check, viewer=request.user, deal_id=deal_id)
        return render(
            request,
            "receivables/deal_credit.html",
            {
                **check,
                "form": form or ReasonForm(),
                "is_owner": request.user.is_owner,
                "may_request": can(request.user, "change", "deal"),
            },
            status=status,
        )

    def get(self, request, deal_id: int):
        require(request.user, "view", "deal")
        return self._render(request, deal_id)

    def post(self, request, deal_id: int):
        require(request.user, "change", "deal")
        check = found(selectors.deal_credit_check, viewer=request.user, deal_id=deal_id)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            return self._render(request, deal_id, form, status=422)
        try:
            if request.user.is_owner:
                services.credit_override_grant(
                    actor=request.user, deal=check["deal"], reason=form.cleaned_data["reason"]
                )
                messages.success(request, _("The deal is allowed through the credit rules."))
            else:
                services.credit_override_request(
                    actor=request.user, deal=check["deal"], reason=form.cleaned_data["reason"]
                )
                messages.success(request, _("The request is sent to the owner."))
        except ServiceError as error:
            form.add_error(None, error.message)
            return self._render(request, deal_id, form, status=422)
        return redirect("deal-credit", deal_id=deal_id)


class OverrideListView(LoginRequiredMixin, View):
    """Credit exceptions waiting for the owner, and the log of decisions."""

    def get(self, request):
        require(request.user, "view", "deal")
        overrides = selectors.credit_override_list(viewer=request.user)
        return render(
            request,
            "receivables/override_list.html",
            {
                "pending": overrides.filter(status=OverrideStatus.PENDING)[:100],
                "decided": overrides.exclude(status=OverrideStatus.PENDING)[:100],
                "is_owner": request.user.is_owner,
            },
        )


class OverrideDecideView(LoginRequiredMixin, View):
    def post(self, request, override_id: int):
        require(request.user, "view", "deal")
        override = (
            selectors.credit_override_list(viewer=request.user).filter(pk=override_id).first()
        )
        if override is None:
            raise Http404
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose to allow or to refuse."))
            return redirect("credit-override-list")
        try:
            services.credit_override_decide(
                actor=request.user,
                override=override,
                grant=form.cleaned_data["decision"] == "grant",
                reason=form.cleaned_data["reason"],
                channel=DecisionChannel.WEB,
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The decision is recorded."))
        return redirect("credit-override-list")


class StatementListView(LoginRequiredMixin, View):
    """Load a bank statement or a 1C file; the loads so far."""

    def _render(self, request, form, status: int = 200):
        return render(
            request,
            "receivables/statement_list.html",
            {"form": form, "imports": PaymentImport.objects.select_related("uploaded_by")[:50]},
            status=status,
        )

    def get(self, request):
        require(request.user, "change", "payment")
        return self._render(request, StatementForm())

    def post(self, request):
        require(request.user, "change", "payment")
        form = StatementForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form, status=422)
        upload = form.cleaned_data["file"]
        try:
            batch = services.payment_import_load(
                actor=request.user, content=upload.read(), file_name=upload.name
            )
        except ServiceError as error:
            form.add_error("file", error.message)
            return self._render(request, form, status=422)
        messages.success(
            request,
            _("Loaded %(total)s rows: %(applied)s applied, %(confirm)s to confirm.")
            % {
                "total": batch.rows_total,
                "applied": batch.rows_applied,
                "confirm": batch.rows_to_confirm + batch.rows_unmatched,
            },
        )
        return redirect("statement-detail", statement_id=batch.pk)


class StatementDetailView(LoginRequiredMixin, View):
    """The rows of one statement: those to confirm first, each with the best guess."""

    def get(self, request, statement_id: int):
        require(request.user, "change", "payment")
        batch = PaymentImport.objects.filter(pk=statement_id).first()
        if batch is None:
            raise Http404
        rows = list(
            PaymentImportRow.objects.filter(batch=batch)
            .select_related("invoice", "client")
            .order_by("line_no")
        )
        open_statuses = (RowStatus.SUGGESTED, RowStatus.UNMATCHED)
        return render(
            request,
            "receivables/statement_detail.html",
            {
                "batch": batch,
                "to_confirm": [row for row in rows if row.status in open_statuses],
                "done": [row for row in rows if row.status not in open_statuses],
            },
        )


class RowConfirmView(LoginRequiredMixin, View):
    def post(self, request, row_id: int):
        require(request.user, "change", "payment")
        row = PaymentImportRow.objects.select_related("invoice", "client").filter(pk=row_id).first()
        if row is None:
            raise Http404
        form = RowConfirmForm(request.POST)
        invoice = client = None
        if form.is_valid():
            number = form.cleaned_data["invoice_number"].strip()
            if number:
                invoice = Invoice.objects.visible_to(request.user).filter(number=number).first()
                if invoice is None:
                    messages.error(
                        request, _("No invoice numbered “%(number)s”.") % {"number": number}
                    )
                    return redirect("statement-detail", statement_id=row.batch_id)
            elif form.cleaned_data["as_advance"]:
                client = row.client
            else:
                invoice = row.invoice
        try:
            services.payment_import_row_confirm(
                actor=request.user, row=row, invoice=invoice, client=client
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Line %(line)s applied.") % {"line": row.line_no})
        return redirect("statement-detail", statement_id=row.batch_id)


class RowIgnoreView(LoginRequiredMixin, View):
    def post(self, request, row_id: int):
        require(request.user, "change", "payment")
        row = PaymentImportRow.objects.filter(pk=row_id).first()
        if row is None:
            raise Http404
        try:
            services.payment_import_row_ignore(
                actor=request.user, row=row, reason=request.POST.get("reason", "")
            )
        except ServiceError as error:
            messages.error(request, error.message)
        return redirect("statement-detail", statement_id=row.batch_id)
