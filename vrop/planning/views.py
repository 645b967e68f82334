"""Pages of planning: plans (set, split onto managers, plan vs fact) and the forecast."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from vrop.analytics.periods import period_of
from vrop.analytics.views import NumbersView, _day
from vrop.core.errors import ServiceError
from vrop.core.money import to_decimal


class ForecastView(NumbersView):
    readers = "forecast"

    def get(self, request):
        from vrop.analytics.access import may_read, scope_for
        from vrop.planning.forecast import forecast, forecast_accuracy, probable_receipts

        by = "month" if request.GET.get("by") == "month" else "week"
        scope = scope_for(request.user)
        result = forecast(viewer=request.user, at=_day(request), scope=scope)
        accuracy = (
            [
                forecast_accuracy(at=result.at, by="week"),
                forecast_accuracy(at=result.at, by="month", count=6),
            ]
            if may_read(request.user, "forecast_accuracy")
            else []
        )
        buckets = result.buckets(by)
        return render(
            request,
            "planning/forecast.html",
            {
                "forecast": result,
                "by": by,
                "buckets": buckets,
                "probable": probable_receipts(viewer=request.user, forecast_=result),
                "accuracy": accuracy,
                "chart_data": {
                    "labels": [b.start.strftime("%d.%m") for b in buckets],
                    "deals": [float(b.deals) for b in buckets],
                    "invoices": [float(b.invoices) for b in buckets],
                    "deals_label": _("Deals"),
                    "invoices_label": _("Invoices"),
                },
            },
        )


class PlanListView(NumbersView):
    readers = "plans"

    def get(self, request):
        from vrop.accounts.models import Team, User
        from vrop.analytics.selectors.dashboards import plan_fact_by_manager
        from vrop.planning.models import Metric, Plan

        day = _day(request)
        kind = request.GET.get("period", "month")
        kind = kind if kind in ("month", "quarter", "year") else "month"
        metric = request.GET.get("metric", Metric.GROSS_PROFIT)
        metric = metric if metric in Metric.values else Metric.GROSS_PROFIT
        period = period_of(kind, day)
        rows = plan_fact_by_manager(viewer=request.user, period=period, at=day, metric=metric)
        if request.user.is_manager:
            rows = [row for row in rows if row.manager_id == request.user.pk]
        may_change = request.user.is_superuser or request.user.role in ("owner", "head")
        return render(
            request,
            "planning/plan_list.html",
            {
                "rows": rows,
                "period": period,
                "kind": kind,
                "metric": metric,
                "metrics": Metric.choices,
                "day": day,
                "may_change": may_change,
                "plans": Plan.objects.visible_to(request.user)
                .filter(
                    manager__isnull=True, period_start__lte=period.end, period_end__gte=period.start
                )
                .select_related("team")
                .order_by("period_start", "metric"),
                "teams": Team.objects.order_by("name") if may_change else [],
                "managers": User.objects.active_staff()
                .filter(role="manager")
                .order_by("last_name", "first_name")
                if may_change
                else [],
            },
        )

    def post(self, request):
        from vrop.accounts.models import Team
        from vrop.planning.models import Plan
        from vrop.planning.services import plan_decompose, plan_set

        try:
            if request.POST.get("action") == "decompose":
                plan = (
                    Plan.objects.visible_to(request.user)
                    .filter(pk=request.POST.get("plan") or 0)
                    .first()
                )
                if plan is None:
                    raise ServiceError(_("No such plan."))
                method = request.POST.get("method", "history")
                weights = {
                    int(key.removeprefix("weight_")): to_decimal(value, field="weights")
                    for key, value in request.POST.items()
                    if key.startswith("weight_") and value.strip()
                }
                plans = plan_decompose(
                    actor=request.user, plan=plan, method=method, weights=weights or None
                )
                messages.success(
                    request, _("The plan is split onto %(count)s managers.") % {"count": len(plans)}
                )
            else:
                team_id = request.POST.get("team") or None
                plan_set(
                    actor=request.user,
                    period_start=date.fromisoformat(request.POST.get("period_start", "")),
                    period_end=date.fromisoformat(request.POST.get("period_end", "")),
                    metric=request.POST.get("metric", ""),
                    target=to_decimal(request.POST.get("target") or Decimal("0"), field="target"),
                    team=Team.objects.filter(pk=team_id).first() if team_id else None,
                )
                messages.success(request, _("The plan is saved."))
        except ServiceError as error:
            messages.error(request, str(error))
        except ValueError:
            messages.error(request, _("Give the dates of the plan."))
        return redirect("plan-list")
