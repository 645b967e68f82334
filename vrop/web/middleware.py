"""Russian by default: the language is the one chosen with the switch (a cookie), else
``LANGUAGE_CODE``. Pages ignore the browser's Accept-Language, so that a Russian team
whose computers are set up in English still gets Russian pages; the API honours it,
because a script asks for the language it wants."""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation


class LocaleMiddleware(DjangoLocaleMiddleware):
    api_prefix = "/api/"

    def process_request(self, request):
        if request.path.startswith(self.api_prefix):
            return super().process_request(request)
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
