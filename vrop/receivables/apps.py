from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    name = "vrop.receivables"
    label = "receivables"
