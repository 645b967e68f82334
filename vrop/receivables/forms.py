"""Forms of the receivables pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vrop.accounts.models import User
from vrop.crm.choices import CreditStatus
from vrop.receivables.choices import ActionKind, Bucket

DATE = forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d")


class ReceivablesFilterForm(forms.Form):
    group = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[("client", _("client")), ("manager", _("manager"))],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    manager = forms.ModelChoiceField(
        label=_("Manager"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("All managers"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    bucket = forms.ChoiceField(
        label=_("Overdue"),
        required=False,
        choices=[("", _("Any overdue"))] + [c for c in Bucket.choices if c[0] != Bucket.CURRENT],
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, managers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if managers is None:
            del self.fields["manager"]
        else:
            self.fields["manager"].queryset = managers


class OverdueActionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What was done"),
        choices=ActionKind.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    promised_on = forms.DateField(label=_("Promised payment date"), required=False, widget=DATE)
    promised_amount = forms.DecimalField(
        label=_("Promised amount"),
        required=False,
        max_digits=18,
        decimal_places=2,
        min_value=0,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}),
    )
    next_action = forms.CharField(
        label=_("Next action"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    next_action_on = forms.DateField(label=_("Next action on"), required=False, widget=DATE)
    responsible = forms.ModelChoiceField(
        label=_("Responsible"),
        queryset=User.objects.active_staff(),
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class CreditForm(forms.Form):
    payment_terms_days = forms.IntegerField(
        label=_("Payment terms, days (0 = prepayment)"),
        min_value=0,
        max_value=365,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    credit_limit = forms.DecimalField(
        label=_("Credit limit"),
        min_value=0,
        max_digits=16,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}),
    )
    credit_status = forms.ChoiceField(
        label=_("Credit status"),
        choices=CreditStatus.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("grant", _("Allow")), ("refuse", _("Refuse"))])
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class StatementForm(forms.Form):
    file = forms.FileField(
        label=_("Bank statement or 1C file"),
        widget=forms.ClearableFileInput(attrs={"class": "form-control"}),
    )


class RowConfirmForm(forms.Form):
    invoice_number = forms.CharField(
        label=_("Invoice number"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    as_advance = forms.BooleanField(label=_("As the client's advance"), required=False)
