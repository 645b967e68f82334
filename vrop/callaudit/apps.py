from django.apps import AppConfig


class CallauditConfig(AppConfig):
    name = "vrop.callaudit"
    label = "callaudit"
