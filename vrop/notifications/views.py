"""Pages: the in-app notification list, the Telegram link page, and the webhook."""

from __future__ import annotations

import hmac
import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from vrop.core.errors import ServiceError
from vrop.notifications import selectors, services
from vrop.notifications.telegram import telegram_update_process, telegram_webhook_secret

PAGE_SIZE = 50


@login_required
@require_http_methods(["GET"])
def notification_list_view(request):
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(
        selectors.notification_list(viewer=request.user, unread_only=unread_only), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "notifications": page.object_list,
            "unread_only": unread_only,
            "unread_count": selectors.notification_unread_count(viewer=request.user),
        },
    )


@login_required
@require_http_methods(["GET"])
def notification_bell_view(request):
    """The header bell's badge, loaded by HTMX after the page (so pages pay no query)."""
    return render(
        request,
        "notifications/_bell_badge.html",
        {"unread": selectors.notification_unread_badge(viewer=request.user)},
    )


@login_required
@require_POST
def notification_read_view(request, pk: int):
    try:
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
    except ServiceError as error:
        return render(request, "notifications/_error.html", {"error": error}, status=error.status)
    if request.htmx:
        return render(request, "notifications/_item.html", {"notification": notification})
    return redirect("notification-list")


@login_required
@require_POST
def notification_read_all_view(request):
    services.notification_mark_all_read(user=request.user)
    return redirect("notification-list")


@login_required
@require_http_methods(["GET", "POST"])
def telegram_link_view(request):
    if request.method == "POST":
        if request.POST.get("action") == "unlink":
            services.telegram_unlink(user=request.user)
        else:
            services.telegram_link_code_create(user=request.user)
        return redirect("telegram-link")
    return render(
        request,
        "notifications/telegram_link.html",
        selectors.telegram_link_state(viewer=request.user),
    )


@csrf_exempt
@require_POST
def telegram_webhook_view(request, secret: str):
    expected = telegram_webhook_secret()
    header = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not (hmac.compare_digest(secret, expected) and hmac.compare_digest(header, expected)):
        return HttpResponseForbidden()
    try:
        update = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest()
    outcome = telegram_update_process(update)
    return JsonResponse({"ok": True, "outcome": outcome})
