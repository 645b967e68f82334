from django.contrib import admin

from vrop.notifications.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox, for operators: what went where, what failed and why."""

    list_display = ("id", "channel", "user", "address", "status", "attempts", "created_at")
    list_filter = ("channel", "status")
    search_fields = ("address", "text", "dedupe_key")
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False
