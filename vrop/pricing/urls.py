from django.urls import path

from vrop.pricing import views

urlpatterns = [
    path("approvals/", views.ApprovalListView.as_view(), name="approval-list"),
    path(
        "approvals/<int:approval_id>/decide/",
        views.ApprovalDecideView.as_view(),
        name="approval-decide",
    ),
    path("deals/<int:deal_id>/panel/", views.DealPanelView.as_view(), name="pricing-deal-panel"),
    path("deals/<int:deal_id>/quotes/", views.QuoteIssueView.as_view(), name="quote-issue"),
    path(
        "quotes/<int:quote_id>.<str:kind>",
        views.QuoteDownloadView.as_view(),
        name="quote-download",
    ),
    path(
        "deals/<int:deal_id>/confirmations/request/",
        views.ConfirmationRequestView.as_view(),
        name="confirmation-request",
    ),
    path("confirmations/new/", views.ConfirmationCreateView.as_view(), name="confirmation-create"),
    path("margin/", views.MarginReportView.as_view(), name="margin-report"),
    path("price-lists/import/", views.PriceListImportView.as_view(), name="price-list-import"),
    path("price-lists/", views.PriceListListView.as_view(), name="price-list-list"),
    path(
        "price-lists/<int:price_list_id>/",
        views.PriceListDetailView.as_view(),
        name="price-list-detail",
    ),
    path(
        "price-lists/<int:price_list_id>/items/",
        views.PriceListItemSetView.as_view(),
        name="price-list-item-set",
    ),
    path(
        "price-lists/<int:price_list_id>/items/remove/",
        views.PriceListItemRemoveView.as_view(),
        name="price-list-item-remove",
    ),
    path(
        "price-lists/<int:price_list_id>/copy/",
        views.PriceListCopyView.as_view(),
        name="price-list-copy",
    ),
    path(
        "price-lists/<int:price_list_id>/apply/",
        views.PriceListApplyView.as_view(),
        name="price-list-apply",
    ),
    path("purchases/", views.PurchaseListView.as_view(), name="purchase-list"),
]
