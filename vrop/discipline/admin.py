"""Admin of the discipline area: alerts, snoozes and the assignment log are read-only
(the sweep and the services write them); so are the distribution rules, which the head
sets up on the distribution page (/discipline/distribution/, through
``vrop.discipline.distribution_setup``). Website forms are edited here."""

from __future__ import annotations

import secrets

from django.contrib import admin

from vrop.discipline.models import (
    Alert,
    Assignment,
    DistributionMember,
    DistributionRule,
    Snooze,
    WebForm,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = (
        "id",
        "kind",
        "severity",
        "level",
        "deal",
        "request",
        "manager",
        "first_seen_at",
    )
    list_filter = ("kind", "severity", "level")
    list_select_related = ("deal", "request", "manager")
    show_full_result_count = False


@admin.register(Snooze)
class SnoozeAdmin(ReadOnly):
    list_display = ("deal", "reason", "resume_on", "created_by", "ended_at")


@admin.register(Assignment)
class AssignmentAdmin(ReadOnly):
    list_display = ("request", "manager", "previous_manager", "rule", "actor", "created_at")


class MemberInline(admin.TabularInline):
    model = DistributionMember
    fields = ("user", "weight", "shift_start", "shift_end", "weekdays", "assigned_count")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DistributionRule)
class DistributionRuleAdmin(ReadOnly):
    list_display = ("name", "method", "channel", "segment", "priority", "is_active")
    inlines = [MemberInline]


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "channel", "is_active")
    readonly_fields = ("key",)

    def save_model(self, request, obj, form, change):
        if not obj.key:
            obj.key = secrets.token_urlsafe(24)
        super().save_model(request, obj, form, change)
