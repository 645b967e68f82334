from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "vrop.accounts"
    label = "accounts"
