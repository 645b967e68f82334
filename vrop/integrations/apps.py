from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "vrop.integrations"
    label = "integrations"
