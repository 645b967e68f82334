"""Forms of the CRM pages. They parse and show; the services decide and refuse."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.crm.choices import ActivityKind, Channel, Stage, Unit
from vrop.crm.models import Client, Product
from vrop.crm.services import LineInput
from vrop.web.forms import BootstrapMixin, DateTimeInputField, DecimalInputField
from vrop.web.selectors import manager_choices

STATE_CHOICES = [("", _("All")), ("open", _("Open")), ("closed", _("Closed"))]


def _user_choices(users, empty_label) -> list[tuple[str, str]]:
    return [("", empty_label), *[(str(u.pk), str(u)) for u in users]]


def _user(pk: int | None) -> User | None:
    return User.objects.filter(pk=pk).first() if pk else None


# --- filters ----------------------------------------------------------------------------


class DealFilterForm(BootstrapMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    state = forms.ChoiceField(label=_("Open or closed"), required=False, choices=STATE_CHOICES)
    manager = forms.TypedChoiceField(label=_("Manager"), required=False, coerce=int)
    channel = forms.ChoiceField(label=_("Channel"), required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Title, client, INN or number")
        self.fields["stage"].choices = [("", _("Any stage")), *Stage.choices]
        self.fields["channel"].choices = [("", _("Any channel")), *Channel.choices]
        if viewer.is_manager:
            del self.fields["manager"]
        else:
            self.fields["manager"].choices = _user_choices(manager_choices(), _("Any manager"))

    def value(self, name: str, default=None):
        """A filter's value, or ``default`` when it is empty or not valid (others still apply)."""
        if not self.is_bound:
            return default
        self.is_valid()
        return self.cleaned_data.get(name) or default


class ClientFilterForm(BootstrapMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    manager = forms.TypedChoiceField(label=_("Manager"), required=False, coerce=int)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Name, INN or phone")
        if viewer.is_manager:
            del self.fields["manager"]
        else:
            self.fields["manager"].choices = _user_choices(manager_choices(), _("Any manager"))

    value = DealFilterForm.value


class ProductFilterForm(BootstrapMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    category = forms.CharField(label=_("Category"), required=False)

    value = DealFilterForm.value


# --- deals ------------------------------------------------------------------------------


class DealForm(BootstrapMixin, forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"),
        queryset=Client.objects.none(),
        required=False,
        empty_label=_("— none yet —"),
    )
    manager = forms.TypedChoiceField(label=_("Manager"), required=False, coerce=int)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    title = forms.CharField(label=_("Title"), max_length=300, required=False)
    need = forms.CharField(
        label=_("Need"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_step_title = forms.CharField(label=_("Next step"), max_length=300, required=False)
    next_step_due_at = DateTimeInputField(label=_("Next step due"), required=False)

    def __init__(self, *args, viewer, deal=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = (
            Client.objects.visible_to(viewer)
            .filter(merged_into__isnull=True)
            .only("id", "name")
            .order_by("name", "id")
        )
        if viewer.is_manager:
            del self.fields["manager"]
        else:
            self.fields["manager"].choices = _user_choices(manager_choices(), _("— nobody —"))
        self.fields["title"].widget.attrs["placeholder"] = _("e.g. Rebar A500C for the warehouse")
        self.fields["next_step_title"].widget.attrs["placeholder"] = _(
            "e.g. Call back about the quote"
        )
        if deal is not None:
            self.fields["next_step_title"].label = _("Add a next step")
            self.fields["next_step_due_at"].label = _("Due")

    def clean_manager(self):
        return _user(self.cleaned_data.get("manager"))

    def clean(self):
        data = super().clean()
        if data.get("next_step_due_at") and not data.get("next_step_title"):
            data["next_step_title"] = str(_("Next step"))
        return data


class LineForm(BootstrapMixin, forms.Form):
    line_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    qty = DecimalInputField(label=_("Quantity"), min_value=Decimal("0.001"))
    price = DecimalInputField(label=_("Price"), required=False, min_value=Decimal("0"))

    def __init__(self, *args, product_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", _("— product —")), *product_choices]
        self.fields["product"].widget.attrs["aria-label"] = _("Product")
        self.fields["qty"].widget.attrs.update(
            placeholder=_("quantity"), **{"aria-label": _("Quantity")}
        )
        self.fields["price"].widget.attrs.update(
            placeholder=_("list price"), **{"aria-label": _("Price")}
        )


class BaseLineFormSet(forms.BaseFormSet):
    def line_inputs(self, existing_lines) -> list[LineInput]:
        """The lines to save, in order; a kept line keeps its cost and list price."""
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        products = Product.objects.in_bulk([row["product"] for row in rows])
        by_id = {line.pk: line for line in existing_lines}
        lines = []
        for row in rows:
            product = products.get(row["product"])
            if product is None:
                continue
            kept = by_id.get(row.get("line_id"))
            same = kept is not None and kept.product_id == product.pk
            lines.append(
                LineInput(
                    product=product,
                    qty=row["qty"],
                    price=row.get("price"),
                    cost_price=kept.cost_price if same else None,
                    list_price=kept.list_price if same else None,
                )
            )
        return lines


def line_formset(*, data=None, lines=(), products=()):
    """The deal's line rows; ``products`` are the choices, evaluated once for all rows."""
    extra = 0 if lines else 1
    formset_class = forms.formset_factory(
        LineForm, formset=BaseLineFormSet, extra=extra, can_delete=True
    )
    initial = [
        {"line_id": line.pk, "product": line.product_id, "qty": line.qty, "price": line.price}
        for line in lines
    ]
    choices = [(p.pk, f"{p.name}, {p.get_unit_display()}") for p in products]
    return formset_class(
        data=data,
        initial=initial or None,
        prefix="lines",
        form_kwargs={"product_choices": choices},
    )


class StageForm(BootstrapMixin, forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices)
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=300, required=False)


class NextStepForm(BootstrapMixin, forms.Form):
    """A task with a due date: a deal's next step (also asked when copying a deal)."""

    title = forms.CharField(label=_("Next step"), max_length=300)
    due_at = DateTimeInputField(label=_("Due"))


class CopyForm(BootstrapMixin, forms.Form):
    title = forms.CharField(label=_("Next step"), max_length=300, required=False)
    due_at = DateTimeInputField(label=_("Due"), required=False)


class TaskCompleteForm(BootstrapMixin, forms.Form):
    result = forms.CharField(label=_("Result"), max_length=1000, required=False)
    next_title = forms.CharField(label=_("Next step"), max_length=300, required=False)
    next_due_at = DateTimeInputField(label=_("Due"), required=False)


class ActivityForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=ActivityKind.choices, initial=ActivityKind.NOTE
    )
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    body = forms.CharField(
        label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if not data.get("subject") and not data.get("body"):
            raise forms.ValidationError(_("Write what happened."))
        return data


# --- clients and products -----------------------------------------------------------------


class ClientForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=300)
    inn = forms.CharField(label=_("INN"), max_length=12, required=False)
    kpp = forms.CharField(label=_("KPP"), max_length=9, required=False)
    segment = forms.CharField(label=_("Segment"), max_length=64, required=False)
    manager = forms.TypedChoiceField(label=_("Manager"), required=False, coerce=int)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    payment_terms_days = forms.IntegerField(
        label=_("Payment terms, days (0 = prepayment)"), min_value=0, max_value=365, initial=0
    )
    credit_limit = DecimalInputField(label=_("Credit limit"), required=False, min_value=0)

    CREDIT_FIELDS = ("payment_terms_days", "credit_limit")

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        if viewer.is_manager:
            del self.fields["manager"]
        else:
            self.fields["manager"].choices = _user_choices(manager_choices(), _("— nobody —"))
        if not can(viewer, "change", "client_credit"):
            for name in self.CREDIT_FIELDS:
                del self.fields[name]

    def clean_manager(self):
        return _user(self.cleaned_data.get("manager"))

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if "credit_limit" in data and data["credit_limit"] is None:
            data["credit_limit"] = Decimal("0")
        return data


class ProductForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=300)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    unit = forms.ChoiceField(label=_("Unit"), choices=Unit.choices)
    cost_price = DecimalInputField(label=_("Cost price"), min_value=0)
    list_price = DecimalInputField(label=_("List price"), min_value=0)
    stock_qty = DecimalInputField(label=_("In stock"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("stock_qty") is None:
            data["stock_qty"] = Decimal("0")
        return data
