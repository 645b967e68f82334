"""The daily lists of receivables for finance and the owner (their Telegram / in-app
digest): new overdue, promises due today and missed, clients at the limit, exceptions
waiting for the owner, statement rows waiting for a person."""

from __future__ import annotations

from datetime import date

from django.utils import translation
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.money import format_money
from vrop.receivables.selectors import receivables_digest


def receivables_digest_text(*, user: User, day: date) -> str | None:
    with translation.override(getattr(user, "language", "") or "ru"):
        data = receivables_digest(viewer=user, at=day)
        ageing = data["ageing"]
        lines = [
            _("Receivables on %(date)s") % {"date": day.strftime("%d.%m.%Y")},
            _(
                "Overdue: %(total)s in %(count)s invoices (1–7: %(b1)s; 8–30: %(b2)s; "
                "31–60: %(b3)s; over 60: %(b4)s)."
            )
            % {
                "total": format_money(ageing.total),
                "count": ageing.count,
                "b1": format_money(ageing.buckets["1-7"]),
                "b2": format_money(ageing.buckets["8-30"]),
                "b3": format_money(ageing.buckets["31-60"]),
                "b4": format_money(ageing.buckets["60+"]),
            },
        ]
        for invoice in data["new_overdue"][:5]:
            lines.append(
                _("New overdue: %(number)s, %(client)s, %(debt)s")
                % {
                    "number": invoice.number,
                    "client": invoice.client or "—",
                    "debt": format_money(invoice.balance_due),
                }
            )
        for action in data["promises_due"][:5]:
            lines.append(
                _("Promised by %(date)s: %(client)s, %(amount)s (invoice %(number)s)")
                % {
                    "date": action.promised_on.strftime("%d.%m.%Y"),
                    "client": action.invoice.client or "—",
                    "amount": format_money(action.promised_amount),
                    "number": action.invoice.number,
                }
            )
        for action in data["promises_missed"][:5]:
            lines.append(
                _("Promise missed: %(client)s, invoice %(number)s, promised %(date)s")
                % {
                    "client": action.invoice.client or "—",
                    "number": action.invoice.number,
                    "date": action.promised_on.strftime("%d.%m.%Y"),
                }
            )
        for row in data["near_limit"][:5]:
            lines.append(
                _("At the limit: %(client)s, %(exposure)s of %(limit)s")
                % {
                    "client": row["client"].name,
                    "exposure": format_money(row["exposure"]),
                    "limit": format_money(row["limit"]),
                }
            )
        if data["overrides_pending"]:
            lines.append(
                _("Credit exceptions waiting for the owner: %(count)s")
                % {"count": len(data["overrides_pending"])}
            )
        if data["rows_to_confirm"]:
            lines.append(
                _("Statement rows to confirm: %(count)s") % {"count": data["rows_to_confirm"]}
            )
        if ageing.count == 0 and len(lines) == 2:
            return None
        return "\n".join(lines)
