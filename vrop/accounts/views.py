"""The profile page: who I am, and my API tokens (create — the key is shown once —,
list, revoke)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from vrop.accounts.forms import ApiTokenForm
from vrop.accounts.models import ApiToken
from vrop.accounts.services import api_token_create, api_token_revoke
from vrop.core.errors import ServiceError

NEW_KEY_SESSION = "vrop_new_api_key"


def _render_profile(request, *, token_form=None, status=200):
    context = {
        "tokens": list(ApiToken.objects.filter(user=request.user)),
        "token_form": token_form or ApiTokenForm(),
        # The plain key is shown once, right after it was created, and then forgotten.
        "new_key": request.session.pop(NEW_KEY_SESSION, None),
    }
    return render(request, "accounts/profile.html", context, status=status)


class ProfileView(LoginRequiredMixin, View):
    def get(self, request):
        return _render_profile(request)


class ApiTokenCreateView(LoginRequiredMixin, View):
    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, key = api_token_create(user=request.user, name=form.cleaned_data["name"])
            except ServiceError as error:
                form.add_service_error(error)
            else:
                request.session[NEW_KEY_SESSION] = {"name": token.name, "key": key}
                return redirect("profile")
        return _render_profile(request, token_form=form, status=422)


class ApiTokenRevokeView(LoginRequiredMixin, View):
    def post(self, request, token_id: int):
        token = ApiToken.objects.filter(
            pk=token_id, user=request.user, revoked_at__isnull=True
        ).first()
        if token is None:
            raise Http404
        api_token_revoke(token=token)
        messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
        return redirect("profile")
