"""Pages of the numbers: the owner's five minutes, the head's dashboard, reports.
Views parse, call one selector (or the report builder), render."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from vrop.analytics.access import may_read
from vrop.analytics.periods import PERIOD_KINDS


def _day(request) -> date:
    """?date=YYYY-MM-DD, or today; a bad date is today."""
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return timezone.localdate()
    return day if 1990 <= day.year <= 2200 else timezone.localdate()


class NumbersView(LoginRequiredMixin, View):
    readers = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not may_read(request.user, self.readers):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class OwnerDashboardView(NumbersView):
    readers = "owner_dashboard"

    def get(self, request):
        from vrop.analytics.selectors.dashboards import owner_dashboard

        board = owner_dashboard(viewer=request.user, day=_day(request))
        return render(request, "analytics/owner_dashboard.html", {"board": board})


class HeadDashboardView(NumbersView):
    readers = "head_dashboard"

    def get(self, request):
        from vrop.analytics.selectors.dashboards import head_dashboard

        board = head_dashboard(viewer=request.user, day=_day(request))
        chart_data = {
            "funnel": [{"name": str(s.label), "value": s.deals} for s in board.funnel.steps],
            "weeks": [bucket.strftime("%d.%m") for bucket, _sales in board.trend],
            "gross_profit": [float(sales.gross_profit) for _bucket, sales in board.trend],
            "label": _("Gross profit"),
        }
        return render(
            request, "analytics/head_dashboard.html", {"board": board, "chart_data": chart_data}
        )


class ReportListView(NumbersView):
    readers = "reports"

    def get(self, request):
        from vrop.analytics.models import ReportSubscription

        kind = request.GET.get("kind", "")
        if kind in PERIOD_KINDS:
            url = reverse("report-view", kwargs={"kind": kind})
            return redirect(f"{url}?date={_day(request).isoformat()}")
        subscribed = set(
            ReportSubscription.objects.filter(user=request.user).values_list("kind", flat=True)
        )
        return render(
            request,
            "analytics/report_list.html",
            {
                "kinds": list(PERIOD_KINDS.items()),
                "subscribed": subscribed,
                "today": timezone.localdate(),
            },
        )

    def post(self, request):
        from vrop.analytics.services import report_subscriptions_set

        report_subscriptions_set(user=request.user, kinds=request.POST.getlist("kinds"))
        messages.success(request, _("Report delivery saved."))
        return redirect("report-list")


class ReportView(NumbersView):
    readers = "reports"

    def get(self, request, kind: str):
        from vrop.analytics.reports import FORMATS, report_build, report_context, report_file

        if kind not in PERIOD_KINDS:
            raise Http404
        day = _day(request)
        report = report_build(viewer=request.user, kind=kind, day=day)
        fmt = request.GET.get("format", "")
        if fmt in FORMATS:
            content, name, content_type = report_file(report, fmt)
            response = HttpResponse(content, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return render(request, "analytics/report_view.html", {**report_context(report), "day": day})
