from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "vrop.crm"
    label = "crm"
