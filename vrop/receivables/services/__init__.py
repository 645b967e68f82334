"""Every write on receivables: invoices, payments and their allocation, shipments, client
credit terms and status, owner overrides, actions on overdue debt, bank statements.

Split by subject; import from here (``from vrop.receivables.services import ...``).
"""

from vrop.receivables.services.credit import (
    client_credit_set,
    credit_override_decide,
    credit_override_grant,
    credit_override_request,
)
from vrop.receivables.services.documents import (
    invoice_apply_payments,
    invoice_create,
    invoice_default_due_on,
    invoice_paid_amount_add,
    invoices_apply_payments,
    payment_allocate,
    payment_record,
    payments_record_bulk,
    shipment_create,
)
from vrop.receivables.services.overdue import (
    overdue_action_add,
    promises_review,
    receivables_sweep,
)
from vrop.receivables.services.statements import (
    payment_import_load,
    payment_import_row_confirm,
    payment_import_row_ignore,
)

__all__ = [
    "client_credit_set",
    "credit_override_decide",
    "credit_override_grant",
    "credit_override_request",
    "invoice_apply_payments",
    "invoice_create",
    "invoice_default_due_on",
    "invoice_paid_amount_add",
    "invoices_apply_payments",
    "overdue_action_add",
    "payment_allocate",
    "payment_import_load",
    "payment_import_row_confirm",
    "payment_import_row_ignore",
    "payment_record",
    "payments_record_bulk",
    "promises_review",
    "receivables_sweep",
    "shipment_create",
]
