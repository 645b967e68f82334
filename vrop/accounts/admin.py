from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from vrop.accounts.models import ApiToken, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (
        (
            "Virtual ROP",
            {
                "fields": (
                    "role",
                    "team",
                    "hired_on",
                    "left_on",
                    "phone",
                    "is_absent",
                    "telegram_chat_id",
                    "digest_time",
                    "language",
                )
            },
        ),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash")
