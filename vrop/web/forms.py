"""Form pieces shared by the apps' pages: Bootstrap classes, Russian-friendly numbers
and dates, and turning a service's refusal into a form error."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from vrop.core.errors import ServiceError
from vrop.core.money import to_decimal

DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y"]


class BootstrapMixin:
    """Adds Bootstrap's classes to every widget."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for bound in self.fields.values():
            widget = bound.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            elif isinstance(widget, forms.HiddenInput):
                continue
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's refusal on the field it names, or on the whole form."""
        field = error.field if error.field in self.fields else None
        self.add_error(field, str(error.message))


class DecimalInputField(forms.CharField):
    """A number typed the Russian way (``1 234,5``) or the dot way; returns a Decimal."""

    def __init__(self, *args, min_value=None, **kwargs):
        self.min_value = min_value
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            number = to_decimal(value)
        except ServiceError as error:
            raise forms.ValidationError(str(error.message))
        if self.min_value is not None and number < self.min_value:
            raise forms.ValidationError(_("Must be at least %(min)s.") % {"min": self.min_value})
        return number


class DateTimeInputField(forms.DateTimeField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("input_formats", DATETIME_INPUT_FORMATS)
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        )
        super().__init__(*args, **kwargs)


class LoginForm(BootstrapMixin, AuthenticationForm):
    username = forms.CharField(
        label=_("E-mail or login"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
