from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "vrop.pricing"
    label = "pricing"
