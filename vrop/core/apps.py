from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vrop.core"
    label = "core"
    verbose_name = "Core"
