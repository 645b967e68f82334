"""Factories for every model: the public test API. Tests make data only through these
(or through the services they test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from vrop.accounts.choices import Role
from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call, Direction
from vrop.core.validators import make_inn
from vrop.crm.choices import ActivityKind, Stage, Unit
from vrop.crm.models import Activity, Client, Contact, Deal, DealLine, Product, StageChange, Task
from vrop.planning.models import Metric, Plan
from vrop.receivables.models import Invoice, Payment, Shipment


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    first_name = factory.Sequence(lambda n: f"Имя{n}")
    last_name = factory.Sequence(lambda n: f"Фамилия{n}")
    role = Role.MANAGER
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OwnerFactory(UserFactory):
    role = Role.OWNER


class HeadFactory(UserFactory):
    role = Role.HEAD


class ManagerFactory(UserFactory):
    role = Role.MANAGER


class FinanceFactory(UserFactory):
    role = Role.FINANCE


class SupplyFactory(UserFactory):
    role = Role.SUPPLY


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"ООО «Клиент {n}»")
    inn = factory.Sequence(lambda n: make_inn(f"77{n:07d}"))
    segment = "construction"
    manager = factory.SubFactory(ManagerFactory)
    payment_terms_days = 0
    credit_limit = Decimal("0")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Контакт {n}")
    phone = factory.Sequence(lambda n: f"+7900{n:07d}")
    email = factory.Sequence(lambda n: f"contact{n}@client.example")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Арматура А500С ⌀{10 + n % 20}")
    category = "rebar"
    unit = Unit.TONNE
    cost_price = Decimal("50000.00")
    list_price = Decimal("56000.00")
    stock_qty = Decimal("100")


class DealFactory(factory.django.DjangoModelFactory):
    """A deal row as stored. For rule-checked creation use ``crm.services.deal_create``."""

    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Сделка {n}")
    client = factory.SubFactory(ClientFactory)
    manager = factory.SelfAttribute("client.manager")
    channel = "phone"
    received_at = factory.LazyFunction(timezone.now)
    stage = Stage.LEAD
    stage_changed_at = factory.SelfAttribute("received_at")
    amount = Decimal("0")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        """Keep the facts the services keep when a row is written directly."""
        if create and (instance.first_contact_at or instance.quote_sent_at):
            from vrop.discipline.worktime import refresh_response_times

            refresh_response_times(Deal.objects.filter(pk=instance.pk))
            instance.refresh_from_db(fields=["first_contact_work_seconds", "quote_work_seconds"])


class DealLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealLine

    deal = factory.SubFactory(DealFactory)
    product = factory.SubFactory(ProductFactory)
    qty = Decimal("10")
    price = factory.SelfAttribute("product.list_price")
    cost_price = factory.SelfAttribute("product.cost_price")
    list_price = factory.SelfAttribute("product.list_price")


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    deal = factory.SubFactory(DealFactory)
    stage = Stage.CONTACT
    changed_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        """Keep the deal's stage moments as the services do when they write history."""
        if create:
            from vrop.crm.services import deals_stage_moments_refresh

            deals_stage_moments_refresh(Deal.objects.filter(pk=instance.deal_id))


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    deal = factory.SubFactory(DealFactory)
    client = factory.SelfAttribute("deal.client")
    manager = factory.SelfAttribute("deal.manager")
    title = "Перезвонить"
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    kind = ActivityKind.CALL
    deal = factory.SubFactory(DealFactory)
    client = factory.SelfAttribute("deal.client")
    user = factory.SelfAttribute("deal.manager")
    occurred_at = factory.LazyFunction(timezone.now)
    subject = "Звонок"


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    deal = factory.SubFactory(DealFactory, stage=Stage.WON)
    client = factory.SelfAttribute("deal.client")
    manager = factory.SelfAttribute("deal.manager")
    number = factory.Sequence(lambda n: f"СЧ-{n:05d}")
    issued_on = factory.LazyFunction(timezone.localdate)
    due_on = factory.LazyAttribute(lambda o: o.issued_on + dt.timedelta(days=14))
    amount = Decimal("100000.00")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        """Keep the deal's "fully paid on" as the services do."""
        if create and instance.deal_id:
            from vrop.receivables.services.documents import deals_paid_on_refresh

            deals_paid_on_refresh(Deal.objects.filter(pk=instance.deal_id))


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory)
    client = factory.SelfAttribute("invoice.client")
    paid_on = factory.LazyFunction(timezone.localdate)
    amount = Decimal("100000.00")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment

    deal = factory.SubFactory(DealFactory, stage=Stage.WON)
    client = factory.SelfAttribute("deal.client")
    manager = factory.SelfAttribute("deal.manager")
    shipped_on = factory.LazyFunction(timezone.localdate)
    amount = Decimal("100000.00")
    cost = Decimal("90000.00")
    volume = Decimal("2")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    period_start = dt.date(2026, 11, 1)
    period_end = dt.date(2026, 11, 30)
    metric = Metric.GROSS_PROFIT
    target = Decimal("1000000")


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    deal = factory.SubFactory(DealFactory)
    client = factory.SelfAttribute("deal.client")
    manager = factory.SelfAttribute("deal.manager")
    started_at = factory.LazyFunction(timezone.now)
    direction = Direction.OUT
    duration_s = 120
    transcript = factory.LazyFunction(
        lambda: [
            {
                "speaker": "manager",
                "start": 0.0,
                "end": 3.0,
                "text": "Добрый день, компания Металл-Сервис.",
            },
            {
                "speaker": "client",
                "start": 3.2,
                "end": 6.0,
                "text": "Здравствуйте, нужна арматура.",
            },
        ]
    )


class RequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Request"

    channel = "phone"
    received_at = factory.LazyFunction(timezone.now)
    company_name = factory.Sequence(lambda n: f"ООО «Заявитель {n}»")
    manager = factory.SubFactory(ManagerFactory)


class SnoozeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "discipline.Snooze"

    deal = factory.SubFactory(DealFactory)
    reason = "Ждём бюджет клиента"
    resume_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))
    resume_at = factory.LazyAttribute(
        lambda o: dt.datetime.combine(o.resume_on, dt.time(9, 0), timezone.get_current_timezone())
    )


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "discipline.Alert"

    kind = "stalled_deal"
    deal = factory.SubFactory(DealFactory)
    manager = factory.SelfAttribute("deal.manager")
    first_seen_at = factory.LazyFunction(timezone.now)


class DistributionRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "discipline.DistributionRule"

    name = factory.Sequence(lambda n: f"Правило {n}")
    method = "round_robin"


class DistributionMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "discipline.DistributionMember"

    rule = factory.SubFactory(DistributionRuleFactory)
    user = factory.SubFactory(ManagerFactory)
    weight = 1


class WebFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "discipline.WebForm"

    name = factory.Sequence(lambda n: f"Форма на сайте {n}")
    key = factory.Sequence(lambda n: f"form-key-{n:04d}-abcdefghijklmnop")
    channel = "website"


# --- notifications ------------------------------------------------------------------------


class InAppNotificationFactory(factory.django.DjangoModelFactory):
    """An in-app notification (a row of the outbox on the ``inapp`` channel)."""

    class Meta:
        model = "notifications.OutboxMessage"

    channel = "inapp"
    user = factory.SubFactory(ManagerFactory)
    text = factory.Sequence(lambda n: f"Уведомление {n}")
    status = "sent"
    sent_at = factory.LazyFunction(timezone.now)


class TelegramLinkCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "notifications.TelegramLinkCode"

    user = factory.SubFactory(ManagerFactory)
    code = factory.Sequence(lambda n: f"CODE{n:04d}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(minutes=30))


# --- receivables: credit, overrides, overdue actions, statements --------------------------


class CreditChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "receivables.CreditChange"

    client = factory.SubFactory(ClientFactory)
    payment_terms_days = factory.SelfAttribute("client.payment_terms_days")
    credit_limit = factory.SelfAttribute("client.credit_limit")
    credit_status = factory.SelfAttribute("client.credit_status")
    reason = "Решение финансового отдела"
    changed_at = factory.LazyFunction(timezone.now)


class CreditOverrideFactory(factory.django.DjangoModelFactory):
    """A pending request to let a deal through the credit rules."""

    class Meta:
        model = "receivables.CreditOverride"

    deal = factory.SubFactory(DealFactory, amount=Decimal("500000.00"))
    client = factory.SelfAttribute("deal.client")
    deal_amount = factory.SelfAttribute("deal.amount")
    requested_by = factory.SelfAttribute("deal.manager")
    requested_at = factory.LazyFunction(timezone.now)
    request_reason = "Клиент оплатит на следующей неделе"


class OverdueActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "receivables.OverdueAction"

    invoice = factory.SubFactory(InvoiceFactory)
    client = factory.SelfAttribute("invoice.client")
    kind = "call"
    note = "Звонок бухгалтеру"
    done_by = factory.SelfAttribute("invoice.manager")
    done_at = factory.LazyFunction(timezone.now)
    responsible = factory.SelfAttribute("invoice.manager")


class PaymentImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "receivables.PaymentImport"

    file_name = factory.Sequence(lambda n: f"statement-{n}.csv")
    file_format = "csv"


class PaymentImportRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "receivables.PaymentImportRow"

    batch = factory.SubFactory(PaymentImportFactory)
    line_no = factory.Sequence(lambda n: n + 2)
    key = factory.Sequence(lambda n: f"row-key-{n:06d}")
    paid_on = factory.LazyFunction(timezone.localdate)
    amount = Decimal("100000.00")
    purpose = "Оплата по счёту"
    status = "unmatched"


class ForecastSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "planning.ForecastSnapshot"

    made_on = factory.LazyFunction(timezone.localdate)
    total = Decimal("0")


class ForecastSnapshotLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "planning.ForecastSnapshotLine"

    snapshot = factory.SubFactory(ForecastSnapshotFactory)
    expected_on = factory.LazyFunction(timezone.localdate)
    kind = "invoice"
    amount = Decimal("100000")


class ConfirmationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pricing.Confirmation"

    product = factory.SubFactory(ProductFactory)
    source = "stock"
    qty = Decimal("100")
    available_on = factory.LazyFunction(timezone.localdate)
    valid_until = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=3))


class PriceListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pricing.PriceList"

    name = factory.Sequence(lambda n: f"Прайс {n}")
    effective_from = factory.LazyFunction(timezone.localdate)


class PriceListItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pricing.PriceListItem"

    price_list = factory.SubFactory(PriceListFactory)
    product = factory.SubFactory(ProductFactory)
    list_price = Decimal("60000.00")
    cost_price = Decimal("52000.00")
