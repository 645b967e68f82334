from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "vrop.planning"
    label = "planning"
