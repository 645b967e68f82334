from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path

from vrop.api import api

# Each app with pages has vrop/<app>/urls.py; it is mounted at /<app>/ (web at /).
APPS_WITH_PAGES = [
    "crm",
    "discipline",
    "pricing",
    "receivables",
    "planning",
    "analytics",
    "team",
    "callaudit",
    "integrations",
    "notifications",
    "accounts",
]

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
urlpatterns += [
    path(f"{app}/", include(f"vrop.{app}.urls"))
    for app in APPS_WITH_PAGES
    if find_spec(f"vrop.{app}.urls") is not None
]
urlpatterns += [path("", include("vrop.web.urls"))]
