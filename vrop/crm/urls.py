from django.urls import path

from vrop.crm import views

urlpatterns = [
    path("deals/", views.DealListView.as_view(), name="deal-list"),
    path("deals/new/", views.DealCreateView.as_view(), name="deal-create"),
    path("deals/<int:deal_id>/", views.DealDetailView.as_view(), name="deal-detail"),
    path("deals/<int:deal_id>/edit/", views.DealEditView.as_view(), name="deal-edit"),
    path("deals/<int:deal_id>/stage/", views.DealStageView.as_view(), name="deal-stage"),
    path("deals/<int:deal_id>/copy/", views.DealCopyView.as_view(), name="deal-copy"),
    path("deals/<int:deal_id>/tasks/", views.TaskCreateView.as_view(), name="task-create"),
    path(
        "deals/<int:deal_id>/activities/",
        views.ActivityCreateView.as_view(),
        name="activity-create",
    ),
    path("tasks/<int:task_id>/complete/", views.TaskCompleteView.as_view(), name="task-complete"),
    path("clients/", views.ClientListView.as_view(), name="client-list"),
    path("clients/new/", views.ClientCreateView.as_view(), name="client-create"),
    path("clients/<int:client_id>/", views.ClientDetailView.as_view(), name="client-detail"),
    path("clients/<int:client_id>/edit/", views.ClientEditView.as_view(), name="client-edit"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/new/", views.ProductCreateView.as_view(), name="product-create"),
    path("products/<int:product_id>/edit/", views.ProductEditView.as_view(), name="product-edit"),
]
