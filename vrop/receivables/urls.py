from django.urls import path

from vrop.receivables import views

urlpatterns = [
    path("", views.ReceivablesView.as_view(), name="receivables"),
    path("invoices/<int:invoice_id>/", views.InvoiceActionsView.as_view(), name="invoice-actions"),
    path("clients/<int:client_id>/credit/", views.ClientCreditView.as_view(), name="client-credit"),
    path("deals/<int:deal_id>/credit/", views.DealCreditView.as_view(), name="deal-credit"),
    path("overrides/", views.OverrideListView.as_view(), name="credit-override-list"),
    path(
        "overrides/<int:override_id>/decide/",
        views.OverrideDecideView.as_view(),
        name="credit-override-decide",
    ),
    path("statements/", views.StatementListView.as_view(), name="statement-list"),
    path(
        "statements/<int:statement_id>/",
        views.StatementDetailView.as_view(),
        name="statement-detail",
    ),
    path(
        "statement-rows/<int:row_id>/confirm/",
        views.RowConfirmView.as_view(),
        name="statement-row-confirm",
    ),
    path(
        "statement-rows/<int:row_id>/ignore/",
        views.RowIgnoreView.as_view(),
        name="statement-row-ignore",
    ),
]
