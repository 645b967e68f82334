"""Pricing pages: approvals, the deal's pricing panel, quotes, confirmations, price lists,
and the margin report. Views parse, call one selector or service, render."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from vrop.accounts.visibility import can
from vrop.core.errors import NotFound, ServiceError, ValidationError
from vrop.crm.models import Product
from vrop.pricing import selectors, services
from vrop.pricing.models import ConfirmationSource


def _found(function, **kwargs):
    try:
        return function(**kwargs)
    except NotFound:
        raise Http404


def _require_decider(user) -> None:
    if not selectors.is_decider(user):
        raise PermissionDenied


class ApprovalListView(LoginRequiredMixin, View):
    def get(self, request):
        _require_decider(request.user)
        status = request.GET.get("status", "pending")
        if status not in ("pending", "approved", "rejected", "superseded", ""):
            status = "pending"
        approvals = selectors.approval_list(viewer=request.user, status=status)[:200]
        return render(
            request, "pricing/approval_list.html", {"approvals": approvals, "status": status}
        )


class ApprovalDecideView(LoginRequiredMixin, View):
    def post(self, request, approval_id: int):
        _require_decider(request.user)
        approval = _found(selectors.approval_get, viewer=request.user, approval_id=approval_id)
        approve = request.POST.get("decision") == "approve"
        try:
            services.approval_decide(
                actor=request.user,
                approval=approval,
                approve=approve,
                comment=request.POST.get("comment", ""),
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Approved.") if approve else _("Rejected."))
        target = request.POST.get("next", "")
        if target == "deal":
            return redirect("deal-detail", deal_id=approval.deal_id)
        return redirect("approval-list")


def _panel_context(request, deal_id: int, **extra) -> dict:
    pricing = _found(selectors.deal_pricing, viewer=request.user, deal_id=deal_id)
    return {
        "p": pricing,
        "can_decide": selectors.is_decider(request.user),
        "can_confirm": can(request.user, "change", "confirmation"),
        "can_quote": can(request.user, "change", "deal") and pricing.deal.is_open,
        **extra,
    }


class DealPanelView(LoginRequiredMixin, View):
    """The pricing panel of a deal, loaded by the deal page (``hx-get``)."""

    def get(self, request, deal_id: int):
        return render(request, "pricing/deal_panel.html", _panel_context(request, deal_id))


class QuoteIssueView(LoginRequiredMixin, View):
    def post(self, request, deal_id: int):
        if not can(request.user, "change", "deal"):
            raise PermissionDenied
        deal = _found(selectors.deal_for_pricing, viewer=request.user, deal_id=deal_id)
        try:
            valid_days = int(request.POST.get("valid_days") or 5)
            raw_date = request.POST.get("delivery_date") or ""
            delivery_date = dt.date.fromisoformat(raw_date) if raw_date else None
        except ValueError:
            messages.error(request, _("Check the validity and the delivery date."))
            return redirect("deal-detail", deal_id=deal.pk)
        try:
            quote = services.quote_issue(
                actor=request.user, deal=deal, valid_days=valid_days, delivery_date=delivery_date
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Quote %(number)s issued.") % {"number": quote.number})
        return redirect("deal-detail", deal_id=deal.pk)


class ConfirmationRequestView(LoginRequiredMixin, View):
    """Ask supply (in Telegram and in the app) to confirm the lines of a deal's promise."""

    def post(self, request, deal_id: int):
        from vrop.pricing.notify import confirmation_request_announce

        if not can(request.user, "change", "deal"):
            raise PermissionDenied
        deal = _found(selectors.deal_for_pricing, viewer=request.user, deal_id=deal_id)
        if deal.promised_date is None:
            messages.error(request, _("Set the promised delivery date first."))
        else:
            told = confirmation_request_announce(deal_id=deal.pk)
            messages.success(request, _("Supply asked: %(count)s people.") % {"count": told})
        return redirect("deal-detail", deal_id=deal.pk)


class QuoteDownloadView(LoginRequiredMixin, View):
    def get(self, request, quote_id: int, kind: str):
        from vrop.pricing.documents import quote_pdf, quote_xlsx

        quote = _found(selectors.quote_get, viewer=request.user, quote_id=quote_id)
        if kind == "pdf":
            content, mime = quote_pdf(quote), "application/pdf"
        elif kind == "xlsx":
            content = quote_xlsx(quote)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            raise Http404
        response = HttpResponse(content, content_type=mime)
        response["Content-Disposition"] = f'attachment; filename="quote-{quote.number}.{kind}"'
        return response


class ConfirmationForm(forms.Form):
    product = forms.ModelChoiceField(
        Product.objects.order_by("name"), label=gettext_lazy("Product")
    )
    source = forms.ChoiceField(choices=ConfirmationSource.choices, label=gettext_lazy("Source"))
    supplier = forms.CharField(required=False, max_length=200, label=gettext_lazy("Supplier"))
    qty = forms.DecimalField(max_digits=14, decimal_places=3, label=gettext_lazy("Quantity"))
    available_on = forms.DateField(
        label=gettext_lazy("Available on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=gettext_lazy("Valid until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    deal = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ConfirmationCreateView(LoginRequiredMixin, View):
    def _allowed(self, request):
        if not can(request.user, "change", "confirmation"):
            raise PermissionDenied

    def get(self, request):
        self._allowed(request)
        form = ConfirmationForm(initial={"deal": request.GET.get("deal")})
        return render(request, "pricing/confirmation_form.html", {"form": form})

    def post(self, request):
        self._allowed(request)
        form = ConfirmationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            deal = None
            if data["deal"]:
                deal = _found(selectors.deal_for_pricing, viewer=request.user, deal_id=data["deal"])
            valid_until = timezone.make_aware(
                dt.datetime.combine(data["valid_until"], dt.time(23, 59, 59))
            )
            try:
                services.confirmation_create(
                    actor=request.user,
                    product=data["product"],
                    qty=data["qty"],
                    available_on=data["available_on"],
                    valid_until=valid_until,
                    source=data["source"],
                    supplier=data["supplier"],
                    deal=deal,
                )
            except ServiceError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Confirmation saved."))
                if deal is not None:
                    return redirect("deal-detail", deal_id=deal.pk)
                return redirect("confirmation-create")
        return render(request, "pricing/confirmation_form.html", {"form": form}, status=422)


class MarginReportView(LoginRequiredMixin, View):
    def get(self, request):
        today = timezone.localdate()
        try:
            start = dt.date.fromisoformat(request.GET.get("from") or "")
        except ValueError:
            start = today.replace(day=1) - dt.timedelta(days=90)
        try:
            end = dt.date.fromisoformat(request.GET.get("to") or "")
        except ValueError:
            end = today
        by = request.GET.get("by", "manager")
        try:
            rows = selectors.margin_report(viewer=request.user, start=start, end=end, by=by)
        except ServiceError:
            raise PermissionDenied
        return render(
            request,
            "pricing/margin_report.html",
            {"rows": rows, "start": start, "end": end, "by": by},
        )


class PriceListImportView(LoginRequiredMixin, View):
    def _allowed(self, request):
        if not can(request.user, "change", "product"):
            raise PermissionDenied

    def get(self, request):
        self._allowed(request)
        return render(request, "pricing/price_list_import.html", {"errors": []})

    def post(self, request):
        self._allowed(request)
        upload = request.FILES.get("file")
        name = (request.POST.get("name") or "").strip()
        try:
            effective_from = dt.date.fromisoformat(request.POST.get("effective_from") or "")
        except ValueError:
            effective_from = timezone.localdate()
        errors = []
        if upload is None:
            errors = [_("Choose an XLSX file.")]
        else:
            try:
                price_list = services.price_list_import_xlsx(
                    actor=request.user,
                    content=upload.read(),
                    name=name or upload.name,
                    effective_from=effective_from,
                    filename=upload.name,
                )
            except services.PriceListErrors as error:
                errors = error.rows
            except ServiceError as error:
                errors = [error.message]
            else:
                messages.success(
                    request,
                    _("Price list loaded: %(count)s products.")
                    % {"count": price_list.items.count()},
                )
                return redirect("price-list-import")
        return render(request, "pricing/price_list_import.html", {"errors": errors}, status=422)


# --- price lists edited in place, and purchases -------------------------------------------


def _require(ok: bool) -> None:
    if not ok:
        raise PermissionDenied


def _date(value: str):
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


class PriceListListView(LoginRequiredMixin, View):
    """The price lists, newest first, and a form for a new (empty) one."""

    def _page(self, request, *, errors=(), status=200):
        lists = selectors.price_list_list(viewer=request.user)[:100]
        context = {
            "price_lists": lists,
            "current": selectors.price_list_current(viewer=request.user),
            "can_list": selectors.may_set_list_prices(request.user),
            "errors": list(errors),
            "form": request.POST if request.method == "POST" else {},
            "today": timezone.localdate(),
        }
        return render(request, "pricing/price_list_list.html", context, status=status)

    def get(self, request):
        _require(selectors.may_see_price_lists(request.user))
        return self._page(request)

    def post(self, request):
        _require(selectors.may_set_list_prices(request.user))
        try:
            price_list = services.price_list_create(
                actor=request.user,
                name=request.POST.get("name", ""),
                effective_from=_date(request.POST.get("effective_from", "")),
            )
        except ServiceError as error:
            return self._page(request, errors=[error.message], status=422)
        messages.success(request, _("Price list created: add its lines."))
        return redirect("price-list-detail", price_list_id=price_list.pk)


def _price_list(request, price_list_id: int):
    return _found(selectors.price_list_get, viewer=request.user, price_list_id=price_list_id)


class PriceListDetailView(LoginRequiredMixin, View):
    def get(self, request, price_list_id: int):
        _require(selectors.may_see_price_lists(request.user))
        price_list = _price_list(request, price_list_id)
        items = list(selectors.price_list_items(viewer=request.user, price_list=price_list))
        listed = {item.product_id for item in items}
        context = {
            "pl": price_list,
            "items": items,
            "products": [p for p in Product.objects.order_by("name") if p.pk not in listed],
            "can_list": selectors.may_set_list_prices(request.user),
            "can_cost": selectors.may_set_cost_prices(request.user),
            "editable": price_list.applied_at is None,
            "today": timezone.localdate(),
        }
        return render(request, "pricing/price_list_detail.html", context)


class PriceListItemSetView(LoginRequiredMixin, View):
    """Set a line's list and cost price; from the HTMX row it answers with the row."""

    def post(self, request, price_list_id: int):
        _require(selectors.may_see_price_lists(request.user))
        price_list = _price_list(request, price_list_id)
        product = Product.objects.filter(pk=request.POST.get("product") or 0).first()
        error = None
        item = None
        if product is None:
            error = _("Choose a product.")
        else:
            may_list = selectors.may_set_list_prices(request.user)
            list_price = request.POST.get("list_price") if may_list else None
            cost_raw = request.POST.get("cost_price")
            cost_price = cost_raw if cost_raw not in (None, "") else None
            clear_cost = cost_raw == "" and "cost_price" in request.POST
            try:
                item = services.price_list_item_set(
                    actor=request.user,
                    price_list=price_list,
                    product=product,
                    list_price=list_price if list_price not in (None, "") else None,
                    cost_price=cost_price,
                    clear_cost=clear_cost,
                )
            except ServiceError as error_:
                error = error_.message
        if request.htmx and product is not None:
            from vrop.pricing.models import PriceListItem

            item = (
                item
                or PriceListItem.objects.filter(price_list=price_list, product=product)
                .select_related("product")
                .first()
            )
            if item is not None:
                return render(
                    request,
                    "pricing/partials/price_list_row.html",
                    {
                        "pl": price_list,
                        "item": item,
                        "error": error,
                        "saved": error is None,
                        "can_list": selectors.may_set_list_prices(request.user),
                        "can_cost": selectors.may_set_cost_prices(request.user),
                        "editable": price_list.applied_at is None,
                    },
                )
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("Prices saved."))
        return redirect("price-list-detail", price_list_id=price_list.pk)


class PriceListItemRemoveView(LoginRequiredMixin, View):
    def post(self, request, price_list_id: int):
        _require(selectors.may_set_list_prices(request.user))
        price_list = _price_list(request, price_list_id)
        product = Product.objects.filter(pk=request.POST.get("product") or 0).first()
        try:
            if product is None:
                raise ValidationError(_("Choose a product."), field="product")
            services.price_list_item_remove(
                actor=request.user, price_list=price_list, product=product
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Line removed."))
        return redirect("price-list-detail", price_list_id=price_list.pk)


class PriceListCopyView(LoginRequiredMixin, View):
    def post(self, request, price_list_id: int):
        _require(selectors.may_set_list_prices(request.user))
        source = _price_list(request, price_list_id)
        try:
            copy = services.price_list_copy(
                actor=request.user,
                source=source,
                name=request.POST.get("name", ""),
                effective_from=_date(request.POST.get("effective_from", "")),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("price-list-detail", price_list_id=source.pk)
        messages.success(request, _("Price list copied: change its prices."))
        return redirect("price-list-detail", price_list_id=copy.pk)


class PriceListApplyView(LoginRequiredMixin, View):
    def post(self, request, price_list_id: int):
        _require(selectors.may_set_list_prices(request.user))
        price_list = _price_list(request, price_list_id)
        try:
            changed = services.price_list_apply_now(actor=request.user, price_list=price_list)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Price list applied: %(count)s products changed.") % {"count": changed}
            )
        return redirect("price-list-detail", price_list_id=price_list.pk)


class PurchaseListView(LoginRequiredMixin, View):
    """Receipts of goods: the latest one of a product sets its cost price."""

    def _page(self, request, *, errors=(), status=200):
        context = {
            "purchases": selectors.purchase_list(viewer=request.user)[:100],
            "products": Product.objects.order_by("name"),
            "errors": list(errors),
            "form": request.POST if request.method == "POST" else {},
            "today": timezone.localdate(),
        }
        return render(request, "pricing/purchase_list.html", context, status=status)

    def get(self, request):
        _require(selectors.may_set_cost_prices(request.user))
        return self._page(request)

    def post(self, request):
        _require(selectors.may_set_cost_prices(request.user))
        product = Product.objects.filter(pk=request.POST.get("product") or 0).first()
        try:
            if product is None:
                raise ValidationError(_("Choose a product."), field="product")
            services.purchase_record(
                actor=request.user,
                product=product,
                qty=request.POST.get("qty", ""),
                price=request.POST.get("price", ""),
                received_on=_date(request.POST.get("received_on", "")),
                supplier=request.POST.get("supplier", ""),
                document=request.POST.get("document", ""),
            )
        except ServiceError as error:
            return self._page(request, errors=[error.message], status=422)
        messages.success(request, _("Purchase recorded."))
        return redirect("purchase-list")
