from django import forms
from django.utils.translation import gettext_lazy as _

from vrop.web.forms import BootstrapMixin


class ApiTokenForm(BootstrapMixin, forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        required=False,
        help_text=_("What the token is for, e.g. “1C exchange” or “reports script”."),
    )
