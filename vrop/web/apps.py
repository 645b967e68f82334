from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "vrop.web"
    label = "web"
