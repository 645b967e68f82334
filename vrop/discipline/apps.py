from django.apps import AppConfig


class DisciplineConfig(AppConfig):
    name = "vrop.discipline"
    label = "discipline"

    def ready(self) -> None:
        from vrop.discipline import digests, rules  # noqa: F401  (registers the rules)

        digests.register()
