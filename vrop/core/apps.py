from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "vrop.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from vrop.core.sqlite import setup_connection

        connection_created.connect(setup_connection, dispatch_uid="vrop-sqlite-like")
