from django.apps import AppConfig


class TeamConfig(AppConfig):
    name = "vrop.team"
    label = "team"
