from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    name = "vrop.receivables"
    label = "receivables"

    def ready(self) -> None:
        from vrop.receivables import checks  # noqa: F401  (registers the credit rules)
        from vrop.receivables.services.credit import CALLBACK_PREFIX, credit_override_callback

        try:
            from vrop.notifications.services import digest_register, register_callback
        except ImportError:  # pragma: no cover - notifications is part of the project
            return
        register_callback(CALLBACK_PREFIX, credit_override_callback)
        from vrop.receivables.digests import receivables_digest_text

        digest_register("finance", receivables_digest_text)
