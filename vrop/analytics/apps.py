from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "vrop.analytics"
    label = "analytics"
