"""CRM pages: deals, clients, products. Views parse, call one selector or service, render.

Objects come through ``vrop.crm.selectors`` / ``vrop.web.selectors`` (visibility), so
a deal the viewer may not see and a deal that does not exist both answer 404. Writes go
through ``vrop.crm.services``; a refusal (``ServiceError``) is shown with its message and
nothing is changed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, DecimalField, ExpressionWrapper, F, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from vrop.accounts.visibility import can
from vrop.core.errors import NotFound, ServiceError
from vrop.crm import selectors, services
from vrop.crm.choices import Channel
from vrop.crm.forms import (
    ActivityForm,
    ClientFilterForm,
    ClientForm,
    CopyForm,
    DealFilterForm,
    DealForm,
    NextStepForm,
    ProductFilterForm,
    ProductForm,
    StageForm,
    TaskCompleteForm,
    line_formset,
)
from vrop.web.pagination import page_from_request
from vrop.web.selectors import client_page, deal_activities, deal_page, deal_tasks

DEAL_ORDERING = ["-received_at", "-id"]
CLIENT_ORDERING = ["name", "id"]
PRODUCT_ORDERING = ["category", "name", "id"]


def require(user, action: str, kind: str) -> None:
    if not can(user, action, kind):
        raise PermissionDenied


def found(function, **kwargs):
    """Call a selector; a missing or forbidden object is a 404 either way."""
    try:
        return function(**kwargs)
    except NotFound:
        raise Http404


def _products(viewer):
    return list(
        selectors.product_list(viewer=viewer).filter(is_active=True).only("id", "name", "unit")
    )


# --- deals ------------------------------------------------------------------------------


class DealListView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "view", "deal")
        form = DealFilterForm(request.GET or None, viewer=request.user)
        state = form.value("state", "")
        filters = selectors.DealFilters(
            q=form.value("q", ""),
            stage=form.value("stage", ""),
            manager_id=form.value("manager"),
            channel=form.value("channel", ""),
            is_open={"open": True, "closed": False}.get(state),
        )
        deals = selectors.deal_list(viewer=request.user, filters=filters)
        page = page_from_request(request, deals, ordering=DEAL_ORDERING)
        context = {
            "form": form,
            "page": page,
            "can_create": can(request.user, "change", "deal"),
            "show_manager": not request.user.is_manager,
        }
        return render(request, "crm/deal_list.html", context)


def _deal_context(request, page, **forms):
    user = request.user
    deal = page.deal
    context = {
        "page": page,
        "deal": deal,
        "can_change": can(user, "change", "deal"),
        "can_task": can(user, "change", "task"),
        "can_activity": can(user, "change", "activity"),
        "can_view_client": can(user, "view", "client"),
        "stage_form": forms.get("stage_form") or StageForm(initial={"stage": deal.stage}),
        "copy_form": forms.get("copy_form") or CopyForm(),
        "channel_label": dict(Channel.choices).get(deal.channel, deal.channel),
    }
    context.update(_tasks_context(request, deal, page.open_tasks, page.done_tasks, **forms))
    context.update(_activities_context(request, deal, page.activities, **forms))
    return context


def _tasks_context(request, deal, open_tasks, done_tasks, *, task_form=None, **_ignored):
    return {
        "deal": deal,
        "open_tasks": open_tasks,
        "done_tasks": done_tasks,
        "task_form": task_form or NextStepForm(),
        "complete_form": TaskCompleteForm(),
        "can_task": can(request.user, "change", "task"),
        "now": timezone.now(),
    }


def _activities_context(request, deal, activities, *, activity_form=None, **_ignored):
    return {
        "deal": deal,
        "activities": activities,
        "activity_form": activity_form or ActivityForm(),
        "can_activity": can(request.user, "change", "activity"),
    }


class DealDetailView(LoginRequiredMixin, View):
    def get(self, request, deal_id: int):
        page = found(deal_page, viewer=request.user, deal_id=deal_id)
        return render(request, "crm/deal_detail.html", _deal_context(request, page))


def _deal_form_page(request, *, form, formset, deal=None, status=200):
    context = {"form": form, "formset": formset, "deal": deal}
    return render(request, "crm/deal_form.html", context, status=status)


class DealCreateView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "change", "deal")
        initial = {}
        client_id = request.GET.get("client", "")
        if client_id.isdigit():
            initial["client"] = int(client_id)
        form = DealForm(viewer=request.user, initial=initial)
        return _deal_form_page(
            request, form=form, formset=line_formset(products=_products(request.user))
        )

    def post(self, request):
        require(request.user, "change", "deal")
        form = DealForm(request.POST, viewer=request.user)
        formset = line_formset(data=request.POST, products=_products(request.user))
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                deal = services.deal_create(
                    actor=request.user,
                    client=data["client"],
                    manager=data.get("manager"),
                    channel=data["channel"],
                    title=data["title"],
                    need=data["need"],
                    lines=formset.line_inputs([]),
                    next_step_title=data["next_step_title"],
                    next_step_due_at=data["next_step_due_at"],
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Deal “%(title)s” created.") % {"title": deal.title})
                return redirect("deal-detail", deal_id=deal.pk)
        return _deal_form_page(request, form=form, formset=formset, status=422)


class DealEditView(LoginRequiredMixin, View):
    def _deal(self, request, deal_id):
        require(request.user, "change", "deal")
        return found(selectors.deal_get, viewer=request.user, deal_id=deal_id)

    def get(self, request, deal_id: int):
        deal = self._deal(request, deal_id)
        initial = {
            "client": deal.client_id,
            "manager": deal.manager_id,
            "channel": deal.channel,
            "title": deal.title,
            "need": deal.need,
        }
        form = DealForm(viewer=request.user, deal=deal, initial=initial)
        lines = list(deal.lines.order_by("position", "id"))
        formset = line_formset(lines=lines, products=_products(request.user))
        return _deal_form_page(request, form=form, formset=formset, deal=deal)

    def post(self, request, deal_id: int):
        deal = self._deal(request, deal_id)
        form = DealForm(request.POST, viewer=request.user, deal=deal)
        formset = line_formset(data=request.POST, products=_products(request.user))
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            fields = {
                name: data[name] for name in ("client", "channel", "title", "need") if name in data
            }
            if "manager" in form.fields:
                fields["manager"] = data["manager"]
            try:
                # One transaction: a new next step, the deal's fields and its lines stand or
                # fall together.
                with transaction.atomic():
                    if data["next_step_title"]:
                        services.task_create(
                            actor=request.user,
                            title=data["next_step_title"],
                            due_at=data["next_step_due_at"],
                            deal=deal,
                        )
                    deal = services.deal_update(actor=request.user, deal=deal, **fields)
                    existing = list(deal.lines.all())
                    deal = services.deal_lines_set(
                        actor=request.user, deal=deal, lines=formset.line_inputs(existing)
                    )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Deal saved."))
                return redirect("deal-detail", deal_id=deal.pk)
        return _deal_form_page(request, form=form, formset=formset, deal=deal, status=422)


class DealStageView(LoginRequiredMixin, View):
    def post(self, request, deal_id: int):
        require(request.user, "change", "deal")
        deal = found(selectors.deal_get, viewer=request.user, deal_id=deal_id)
        form = StageForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a stage."))
            return redirect("deal-detail", deal_id=deal.pk)
        try:
            services.deal_stage_change(
                actor=request.user,
                deal=deal,
                stage=form.cleaned_data["stage"],
                lost_reason=form.cleaned_data["lost_reason"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            deal.refresh_from_db(fields=["stage"])
            messages.success(request, _("Stage: %(stage)s.") % {"stage": deal.get_stage_display()})
        return redirect("deal-detail", deal_id=deal.pk)


class DealCopyView(LoginRequiredMixin, View):
    def post(self, request, deal_id: int):
        require(request.user, "change", "deal")
        deal = found(selectors.deal_get, viewer=request.user, deal_id=deal_id)
        form = CopyForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Check the next step of the copy."))
            return redirect("deal-detail", deal_id=deal.pk)
        try:
            copy = services.deal_copy(
                actor=request.user,
                deal=deal,
                next_step_title=form.cleaned_data["title"],
                next_step_due_at=form.cleaned_data["due_at"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("deal-detail", deal_id=deal.pk)
        messages.success(request, _("A copy of the deal is created."))
        return redirect("deal-detail", deal_id=copy.pk)


def _tasks_response(request, deal, *, task_form=None, error=None, status=200):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("deal-detail", deal_id=deal.pk)
    open_tasks, done_tasks = deal_tasks(viewer=request.user, deal=deal)
    context = _tasks_context(request, deal, open_tasks, done_tasks, task_form=task_form)
    context["tasks_error"] = error
    return render(request, "crm/deal_detail.html#tasks", context, status=status)


class TaskCreateView(LoginRequiredMixin, View):
    def post(self, request, deal_id: int):
        require(request.user, "change", "task")
        deal = found(selectors.deal_get, viewer=request.user, deal_id=deal_id)
        form = NextStepForm(request.POST)
        if not form.is_valid():
            return _tasks_response(request, deal, task_form=form, status=422)
        try:
            services.task_create(
                actor=request.user,
                title=form.cleaned_data["title"],
                due_at=form.cleaned_data["due_at"],
                deal=deal,
            )
        except ServiceError as error:
            form.add_service_error(error)
            return _tasks_response(request, deal, task_form=form, error=error.message, status=422)
        return _tasks_response(request, deal)


class TaskCompleteView(LoginRequiredMixin, View):
    def post(self, request, task_id: int):
        require(request.user, "change", "task")
        task = found(selectors.task_get, viewer=request.user, task_id=task_id)
        form = TaskCompleteForm(request.POST)
        deal = task.deal
        if not form.is_valid():
            error = _("Check the next step.")
        else:
            data = form.cleaned_data
            try:
                # The next step first: completing the last one of an open deal is refused.
                with transaction.atomic():
                    if data["next_title"] and deal is not None:
                        services.task_create(
                            actor=request.user,
                            title=data["next_title"],
                            due_at=data["next_due_at"],
                            deal=deal,
                        )
                    services.task_complete(actor=request.user, task=task, result=data["result"])
            except ServiceError as error_:
                error = error_.message
            else:
                error = None
        if deal is None:
            if error:
                messages.error(request, error)
            return redirect("home")
        return _tasks_response(request, deal, error=error, status=422 if error else 200)


class ActivityCreateView(LoginRequiredMixin, View):
    def post(self, request, deal_id: int):
        require(request.user, "change", "activity")
        deal = found(selectors.deal_get, viewer=request.user, deal_id=deal_id)
        form = ActivityForm(request.POST)
        status = 200
        if form.is_valid():
            try:
                services.activity_create(actor=request.user, deal=deal, **form.cleaned_data)
            except ServiceError as error:
                form.add_service_error(error)
                status = 422
            else:
                form = None
        else:
            status = 422
        if not request.htmx:
            if form is not None:
                errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
                messages.error(request, " ".join(errors))
            return redirect(reverse("deal-detail", kwargs={"deal_id": deal.pk}) + "#activities")
        activities = deal_activities(viewer=request.user, deal=deal)
        context = _activities_context(request, deal, activities, activity_form=form)
        return render(request, "crm/deal_detail.html#activities", context, status=status)


# --- clients ----------------------------------------------------------------------------


class ClientListView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "view", "client")
        form = ClientFilterForm(request.GET or None, viewer=request.user)
        clients = selectors.client_list(
            viewer=request.user, q=form.value("q", ""), manager_id=form.value("manager")
        )
        page = page_from_request(request, clients, ordering=CLIENT_ORDERING)
        context = {
            "form": form,
            "page": page,
            "can_create": can(request.user, "change", "client"),
            "show_manager": not request.user.is_manager,
        }
        return render(request, "crm/client_list.html", context)


class ClientDetailView(LoginRequiredMixin, View):
    def get(self, request, client_id: int):
        page = found(client_page, viewer=request.user, client_id=client_id)
        context = {
            "page": page,
            "client": page.client,
            "can_change": can(request.user, "change", "client"),
            "can_create_deal": can(request.user, "change", "deal"),
        }
        return render(request, "crm/client_detail.html", context)


def _client_form_page(request, *, form, client=None, status=200):
    return render(request, "crm/client_form.html", {"form": form, "client": client}, status=status)


class ClientCreateView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "change", "client")
        return _client_form_page(request, form=ClientForm(viewer=request.user))

    def post(self, request):
        require(request.user, "change", "client")
        form = ClientForm(request.POST, viewer=request.user)
        if form.is_valid():
            try:
                client = services.client_create(actor=request.user, **form.service_fields())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Client “%(name)s” created.") % {"name": client.name})
                return redirect("client-detail", client_id=client.pk)
        return _client_form_page(request, form=form, status=422)


class ClientEditView(LoginRequiredMixin, View):
    def _client(self, request, client_id):
        require(request.user, "change", "client")
        return found(selectors.client_get, viewer=request.user, client_id=client_id)

    def get(self, request, client_id: int):
        client = self._client(request, client_id)
        initial = {name: getattr(client, name) for name in services.CLIENT_FIELDS}
        initial["manager"] = client.manager_id
        form = ClientForm(viewer=request.user, initial=initial)
        return _client_form_page(request, form=form, client=client)

    def post(self, request, client_id: int):
        client = self._client(request, client_id)
        form = ClientForm(request.POST, viewer=request.user)
        if form.is_valid():
            try:
                services.client_update(actor=request.user, client=client, **form.service_fields())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Client saved."))
                return redirect("client-detail", client_id=client.pk)
        return _client_form_page(request, form=form, client=client, status=422)


# --- products ---------------------------------------------------------------------------


class ProductListView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "view", "product")
        form = ProductFilterForm(request.GET or None)
        products = selectors.product_list(
            viewer=request.user, q=form.value("q", ""), category=form.value("category", "")
        ).annotate(
            markup_pct=Case(
                When(
                    cost_price__gt=0,
                    then=ExpressionWrapper(
                        (F("list_price") - F("cost_price")) * 100 / F("cost_price"),
                        output_field=DecimalField(max_digits=18, decimal_places=4),
                    ),
                ),
                default=None,
                output_field=DecimalField(max_digits=18, decimal_places=4),
            )
        )
        page = page_from_request(request, products, ordering=PRODUCT_ORDERING)
        context = {
            "form": form,
            "page": page,
            "can_change": can(request.user, "change", "product"),
        }
        return render(request, "crm/product_list.html", context)


def _product_form_page(request, *, form, product=None, status=200):
    return render(
        request, "crm/product_form.html", {"form": form, "product": product}, status=status
    )


class ProductCreateView(LoginRequiredMixin, View):
    def get(self, request):
        require(request.user, "change", "product")
        return _product_form_page(request, form=ProductForm())

    def post(self, request):
        require(request.user, "change", "product")
        form = ProductForm(request.POST)
        if form.is_valid():
            try:
                services.product_create(actor=request.user, **form.service_fields())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Product saved."))
                return redirect("product-list")
        return _product_form_page(request, form=form, status=422)


class ProductEditView(LoginRequiredMixin, View):
    def _product(self, request, product_id):
        require(request.user, "change", "product")
        return found(selectors.product_get, viewer=request.user, product_id=product_id)

    def get(self, request, product_id: int):
        product = self._product(request, product_id)
        initial = {name: getattr(product, name) for name in services.PRODUCT_FIELDS}
        return _product_form_page(request, form=ProductForm(initial=initial), product=product)

    def post(self, request, product_id: int):
        product = self._product(request, product_id)
        form = ProductForm(request.POST)
        if form.is_valid():
            try:
                services.product_update(
                    actor=request.user, product=product, **form.service_fields()
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Product saved."))
                return redirect("product-list")
        return _product_form_page(request, form=form, product=product, status=422)
