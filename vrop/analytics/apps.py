from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "vrop.analytics"
    label = "analytics"

    def ready(self) -> None:
        from vrop.analytics import tasks  # noqa: F401  (registers the periodic task)

        try:
            from vrop.notifications.services import digest_register
        except ImportError:  # pragma: no cover - notifications ship with the project
            return
        from vrop.analytics.reports import owner_digest

        # The owner's morning message is the five minutes as text.
        digest_register("owner", owner_digest)
