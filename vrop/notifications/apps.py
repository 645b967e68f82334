from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "vrop.notifications"
    label = "notifications"
