"""The admin of the CRM: read-only.

Deals, tasks and requests are written only by the services (``vrop.crm.services``,
``vrop.crm.inbox``), where the rules hold: an open deal without a next step cannot be
saved on any path, and the admin is one of the paths. Rather than re-implement every
service as an admin form, the admin shows these records and refuses to add, change or
delete them (403); people change them in the web UI or the API. Visibility is the same
as everywhere: ``visible_to``.
"""

from __future__ import annotations

from django.contrib import admin

from vrop.crm.models import Deal, Request, StageChange, Task


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows records; every write goes through the services, never through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        visible_to = getattr(queryset, "visible_to", None)
        return visible_to(request.user) if visible_to else queryset


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "client", "manager", "stage", "amount", "next_step_at")
    list_filter = ("stage", "channel")
    search_fields = ("title", "client__name", "client__inn", "external_id")
    list_select_related = ("client", "manager")
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "deal", "manager", "due_at", "done_at")
    list_select_related = ("deal", "manager")
    show_full_result_count = False


@admin.register(Request)
class RequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "channel", "company_name", "manager", "status")
    list_filter = ("status", "channel")
    list_select_related = ("manager",)


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdmin):
    list_display = ("deal", "from_stage", "stage", "changed_at", "changed_by")
    list_select_related = ("deal", "changed_by")
    show_full_result_count = False
