from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "vrop.pricing"
    label = "pricing"

    def ready(self) -> None:
        from vrop.pricing import checks  # noqa: F401  (registers the rules)
        from vrop.pricing.notify import register

        register()
