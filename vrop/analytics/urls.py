from django.urls import path

from vrop.analytics import views

urlpatterns = [
    path("", views.HeadDashboardView.as_view(), name="head-dashboard"),
    path("owner/", views.OwnerDashboardView.as_view(), name="owner-dashboard"),
    path("reports/", views.ReportListView.as_view(), name="report-list"),
    path("reports/<str:kind>/", views.ReportView.as_view(), name="report-view"),
]
