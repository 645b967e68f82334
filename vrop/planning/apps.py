from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "vrop.planning"
    label = "planning"

    def ready(self) -> None:
        from vrop.planning import tasks  # noqa: F401  (registers the daily snapshot)
