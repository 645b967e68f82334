"""Pages of the discipline area: Today (a manager's day), the control board (the head's
view of who is behind on what), the inbox of requests, and the head's setup of request
distribution. Views parse, call one service or selector, and render; HTMX actions answer
with the changed row."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.core.errors import NotFound, ServiceError
from vrop.core.policy import company_settings
from vrop.crm import inbox
from vrop.crm.choices import Channel, RequestStatus
from vrop.crm.models import Client, Deal, Request, Task
from vrop.discipline import distribution_setup, selectors, services
from vrop.discipline.choices import DistributionMethod
from vrop.discipline.models import DistributionMember, DistributionRule

# --- helpers ----------------------------------------------------------------------------


def _moment(value: str | None) -> datetime | None:
    """A ``datetime-local`` value in company time; None when empty or unreadable."""
    if not value:
        return None
    parsed = parse_datetime(value.strip())
    if parsed is None:
        day = _day(value)
        if day is None:
            return None
        parsed = datetime.combine(day, datetime.min.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return parse_date(value.strip())
    except ValueError:
        return None


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _is_boss(user: User) -> bool:
    return user.is_superuser or user.role in (Role.HEAD, Role.OWNER)


def _object(queryset, pk: int):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    return redirect(request.POST.get("next") or fallback)


def default_due() -> str:
    """The default date of a next step in forms: tomorrow at 10:00, company time."""
    moment = timezone.localtime() + timedelta(days=1)
    return moment.replace(hour=10, minute=0).strftime("%Y-%m-%dT%H:%M")


def _answer(request, template: str, context: dict, *, fallback: str, error=None):
    """HTMX: the changed fragment (with the refusal inside); a plain form post: back to
    the page with a message."""
    if request.htmx:
        context["error"] = error
        context["default_due"] = default_due()
        return render(request, template, context)
    if error is not None:
        messages.error(request, error)
    return _back(request, fallback)


# --- Today ------------------------------------------------------------------------------


@login_required
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    person = request.user
    manager_id = _int(request.GET.get("manager"))
    if manager_id and manager_id != request.user.pk:
        if not _is_boss(request.user):
            raise DjangoPermissionDenied
        person = _object(User.objects.all(), manager_id)
    day = selectors.today(viewer=request.user, person=person)
    context = {
        "day": day,
        "person": person,
        "people": selectors.sellers(viewer=request.user) if _is_boss(request.user) else [],
        "default_due": default_due(),
    }
    return render(request, "discipline/today.html", context)


def _task_row(request, task: Task, *, error=None, done=False):
    task = Task.objects.select_related("deal", "deal__client", "client").get(pk=task.pk)
    return _answer(
        request,
        "discipline/partials/task_row.html",
        {"task": task, "done": done, "now": timezone.now()},
        fallback="/discipline/today/",
        error=error,
    )


@login_required
@require_POST
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _object(Task.objects.visible_to(request.user), task_id)
    try:
        services.task_done(
            actor=request.user,
            task=task,
            result=request.POST.get("result", ""),
            next_step_title=request.POST.get("next_step_title", ""),
            next_step_due_at=_moment(request.POST.get("next_step_due_at")),
        )
    except ServiceError as error:
        return _task_row(request, task, error=error.message)
    return _task_row(request, task, done=True)


@login_required
@require_POST
def task_reschedule(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _object(Task.objects.visible_to(request.user), task_id)
    try:
        services.next_step_reschedule(
            actor=request.user, task=task, due_at=_moment(request.POST.get("due_at"))
        )
    except ServiceError as error:
        return _task_row(request, task, error=error.message)
    return _task_row(request, task)


def _deal_row(request, deal: Deal, *, error=None, fixed=False):
    deal = Deal.objects.select_related("client", "manager").get(pk=deal.pk)
    return _answer(
        request,
        "discipline/partials/stalled_row.html",
        {"deal": deal, "fixed": fixed},
        fallback="/discipline/today/",
        error=error,
    )


@login_required
@require_POST
def deal_next_step(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _object(Deal.objects.visible_to(request.user), deal_id)
    try:
        services.next_step_set(
            actor=request.user,
            deal=deal,
            title=request.POST.get("title", ""),
            due_at=_moment(request.POST.get("due_at")),
        )
    except ServiceError as error:
        return _deal_row(request, deal, error=error.message)
    return _deal_row(request, deal, fixed=True)


@login_required
@require_POST
def deal_snooze(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _object(Deal.objects.visible_to(request.user), deal_id)
    try:
        services.deal_snooze(
            actor=request.user,
            deal=deal,
            reason=request.POST.get("reason", ""),
            resume_on=_day(request.POST.get("resume_on")),
        )
    except ServiceError as error:
        return _deal_row(request, deal, error=error.message)
    return _deal_row(request, deal, fixed=True)


# --- the control board ------------------------------------------------------------------


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    if not _is_boss(request.user):
        raise DjangoPermissionDenied
    data = selectors.board(viewer=request.user)
    return render(request, "discipline/board.html", {"board": data})


@login_required
@require_GET
def board_deals(request: HttpRequest, manager_id: int, kind: str) -> HttpResponse:
    if not _is_boss(request.user):
        raise DjangoPermissionDenied
    if kind not in selectors.BOARD_KINDS:
        raise Http404
    manager = User.objects.filter(pk=manager_id).first() if manager_id else None
    try:
        deals = selectors.board_deals(viewer=request.user, manager_id=manager_id or None, kind=kind)
    except NotFound:
        raise Http404 from None
    context = {"deals": deals, "manager": manager, "kind": kind}
    return render(request, "discipline/board_deals.html", context)


# --- the inbox --------------------------------------------------------------------------

INBOX_TABS = ("new", "unassigned", "processed")


@login_required
@require_GET
def inbox_page(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "new")
    if tab not in INBOX_TABS:
        tab = "new"
    # The board links each manager's unprocessed requests here (the head and the owner).
    manager_id = _int(request.GET.get("manager")) if _is_boss(request.user) else None
    manager = User.objects.filter(pk=manager_id).first() if manager_id else None
    if tab == "processed":
        requests = selectors.request_list(viewer=request.user, status="").exclude(
            status=RequestStatus.NEW
        )
        requests = requests.order_by("-processed_at", "-id")
    else:
        requests = selectors.request_list(viewer=request.user, unassigned=tab == "unassigned")
    if manager is not None:
        requests = requests.filter(manager=manager)
    context = {
        "manager": manager,
        "requests": list(requests[:200]),
        "tab": tab,
        "tabs": INBOX_TABS,
        "is_boss": _is_boss(request.user),
        "people": list(selectors.sellers(viewer=request.user)),
        "channels": Channel.choices,
        "now": timezone.now(),
        "default_due": default_due(),
    }
    return render(request, "discipline/inbox.html", context)


def _request_row(request, item: Request, *, error=None):
    item = Request.objects.select_related("manager", "client", "deal").get(pk=item.pk)
    context = {
        "item": item,
        "is_boss": _is_boss(request.user),
        "people": list(selectors.sellers(viewer=request.user)),
        "now": timezone.now(),
    }
    return _answer(
        request,
        "discipline/partials/request_row.html",
        context,
        fallback="/discipline/inbox/",
        error=error,
    )


def _visible_request(request, request_id: int) -> Request:
    return _object(Request.objects.visible_to(request.user), request_id)


@login_required
@require_POST
def inbox_register(request: HttpRequest) -> HttpResponse:
    try:
        inbox.request_register(
            actor=request.user,
            channel=request.POST.get("channel", Channel.PHONE),
            received_at=_moment(request.POST.get("received_at")),
            contact_name=request.POST.get("contact_name", ""),
            company_name=request.POST.get("company_name", ""),
            inn=request.POST.get("inn", ""),
            phone=request.POST.get("phone", ""),
            email=request.POST.get("email", ""),
            text=request.POST.get("text", ""),
        )
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("inbox")


@login_required
@require_POST
def inbox_accept(request: HttpRequest, request_id: int) -> HttpResponse:
    item = _visible_request(request, request_id)
    try:
        inbox.request_accept(
            actor=request.user,
            request=item,
            title=request.POST.get("title", ""),
            next_step_title=request.POST.get("next_step_title", ""),
            next_step_due_at=_moment(request.POST.get("next_step_due_at")),
        )
    except ServiceError as error:
        return _request_row(request, item, error=error.message)
    return _request_row(request, item)


@login_required
@require_POST
def inbox_link(request: HttpRequest, request_id: int) -> HttpResponse:
    item = _visible_request(request, request_id)
    deal_id = _int(request.POST.get("deal_id"))
    client_id = _int(request.POST.get("client_id"))
    deal = Deal.objects.visible_to(request.user).filter(pk=deal_id).first() if deal_id else None
    client = (
        Client.objects.visible_to(request.user).filter(pk=client_id).first() if client_id else None
    )
    try:
        inbox.request_link(actor=request.user, request=item, deal=deal, client=client)
    except ServiceError as error:
        return _request_row(request, item, error=error.message)
    return _request_row(request, item)


@login_required
@require_POST
def inbox_decline(request: HttpRequest, request_id: int) -> HttpResponse:
    item = _visible_request(request, request_id)
    try:
        inbox.request_decline(actor=request.user, request=item, reason=request.POST.get("reason"))
    except ServiceError as error:
        return _request_row(request, item, error=error.message)
    return _request_row(request, item)


@login_required
@require_POST
def inbox_reassign(request: HttpRequest, request_id: int) -> HttpResponse:
    item = _visible_request(request, request_id)
    manager_id = _int(request.POST.get("manager_id"))
    manager = User.objects.filter(pk=manager_id).first() if manager_id else None
    try:
        inbox.request_reassign(
            actor=request.user,
            request=item,
            manager=manager,
            reason=request.POST.get("reason", ""),
        )
    except ServiceError as error:
        return _request_row(request, item, error=error.message)
    return _request_row(request, item)


@login_required
@require_POST
def inbox_assign(request: HttpRequest, request_id: int) -> HttpResponse:
    item = _visible_request(request, request_id)
    try:
        inbox.request_assign(actor=request.user, request=item)
    except ServiceError as error:
        return _request_row(request, item, error=error.message)
    return _request_row(request, item)


# --- distribution setup (the head's page) -------------------------------------------------

WEEKDAY_CHOICES = sorted(WEEKDAYS_ABBR.items())


def _configurer(request: HttpRequest) -> None:
    if not distribution_setup.can_configure(request.user):
        raise DjangoPermissionDenied


def _rule_or_404(rule_id: int) -> DistributionRule:
    try:
        return selectors.distribution_rule_get(rule_id=rule_id)
    except NotFound:
        raise Http404 from None


def _setup_page(request, *, rule=None, error=None, form=None, status=200) -> HttpResponse:
    """The distribution page (or one rule's page), with a refusal and the typed form."""
    context = {
        "people": list(selectors.sellers(viewer=request.user)),
        "methods": DistributionMethod.choices,
        "channels": Channel.choices,
        "weekdays": WEEKDAY_CHOICES,
        "error": error,
        "form": form or {},
        "form_days": _days(form),
        "active_checked": form.get("is_active") == "on" if form else True,
    }
    if rule is not None:
        if not (form and form.get("method")):
            context["active_checked"] = rule.is_active
        context["rule"] = _rule_or_404(rule.pk)
        template = "discipline/distribution_rule.html"
    else:
        context["rules"] = selectors.distribution_rule_list()
        context["cap"] = company_settings().open_requests_cap
        template = "discipline/distribution.html"
    return render(request, template, context, status=status)


def _days(form) -> list[int]:
    days = []
    for value in form.getlist("weekdays") if form else []:
        try:
            days.append(int(value))
        except ValueError:
            continue
    return days


def _setup_write(request, write, *, rule=None, done_to) -> HttpResponse:
    """Run one distribution service: back to the page with a message (``done_to``: a
    URL, or a function of what the service returned), or the page again with the Russian
    refusal and what was typed (422), nothing changed."""
    try:
        result = write()
    except ServiceError as error:
        return _setup_page(request, rule=rule, error=error.message, form=request.POST, status=422)
    messages.success(request, _("Saved."))
    return redirect(done_to(result) if callable(done_to) else done_to)


def _rule_fields(request) -> dict:
    return {
        "name": request.POST.get("name", ""),
        "method": request.POST.get("method", ""),
        "channel": request.POST.get("channel", ""),
        "segment": request.POST.get("segment", ""),
        "is_active": request.POST.get("is_active") == "on",
    }


def _member_fields(request) -> dict:
    return {
        "weight": request.POST.get("weight", ""),
        "shift_start": request.POST.get("shift_start", ""),
        "shift_end": request.POST.get("shift_end", ""),
        "weekdays": request.POST.getlist("weekdays"),
    }


@login_required
@require_GET
def distribution_page(request: HttpRequest) -> HttpResponse:
    _configurer(request)
    return _setup_page(request)


@login_required
@require_POST
def distribution_rule_create(request: HttpRequest) -> HttpResponse:
    _configurer(request)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_rule_create(
            actor=request.user, **_rule_fields(request)
        ),
        done_to=lambda rule: reverse("distribution-rule", args=[rule.pk]),
    )


@login_required
@require_GET
def distribution_rule_page(request: HttpRequest, rule_id: int) -> HttpResponse:
    _configurer(request)
    return _setup_page(request, rule=_rule_or_404(rule_id))


@login_required
@require_POST
def distribution_rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    _configurer(request)
    rule = _rule_or_404(rule_id)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_rule_update(
            actor=request.user, rule=rule, **_rule_fields(request)
        ),
        rule=rule,
        done_to=reverse("distribution-rule", args=[rule.pk]),
    )


@login_required
@require_POST
def distribution_rule_activate(request: HttpRequest, rule_id: int) -> HttpResponse:
    _configurer(request)
    rule = _rule_or_404(rule_id)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_rule_activate(
            actor=request.user, rule=rule, is_active=request.POST.get("is_active") == "1"
        ),
        done_to="distribution",
    )


@login_required
@require_POST
def distribution_rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    _configurer(request)
    rule = _rule_or_404(rule_id)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_rule_move(
            actor=request.user, rule=rule, direction=request.POST.get("direction", "")
        ),
        done_to="distribution",
    )


@login_required
@require_POST
def distribution_member_add(request: HttpRequest, rule_id: int) -> HttpResponse:
    _configurer(request)
    rule = _rule_or_404(rule_id)
    user_id = _int(request.POST.get("user_id"))
    user = User.objects.filter(pk=user_id).first() if user_id else None
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_member_add(
            actor=request.user, rule=rule, user=user, **_member_fields(request)
        ),
        rule=rule,
        done_to=reverse("distribution-rule", args=[rule.pk]),
    )


def _member_or_404(member_id: int) -> DistributionMember:
    return _object(DistributionMember.objects.select_related("rule"), member_id)


@login_required
@require_POST
def distribution_member_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    _configurer(request)
    member = _member_or_404(member_id)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_member_update(
            actor=request.user, member=member, **_member_fields(request)
        ),
        rule=member.rule,
        done_to=reverse("distribution-rule", args=[member.rule_id]),
    )


@login_required
@require_POST
def distribution_member_remove(request: HttpRequest, member_id: int) -> HttpResponse:
    _configurer(request)
    member = _member_or_404(member_id)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_member_remove(actor=request.user, member=member),
        rule=member.rule,
        done_to=reverse("distribution-rule", args=[member.rule_id]),
    )


@login_required
@require_POST
def distribution_cap(request: HttpRequest) -> HttpResponse:
    _configurer(request)
    return _setup_write(
        request,
        lambda: distribution_setup.distribution_cap_set(
            actor=request.user, cap=request.POST.get("cap")
        ),
        done_to="distribution",
    )


@login_required
@require_POST
def distribution_absence(request: HttpRequest, user_id: int) -> HttpResponse:
    _configurer(request)
    person = _object(User.objects.all(), user_id)
    return _setup_write(
        request,
        lambda: distribution_setup.manager_absence_set(
            actor=request.user, user=person, is_absent=request.POST.get("is_absent") == "1"
        ),
        done_to="distribution",
    )
