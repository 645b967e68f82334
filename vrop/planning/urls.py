from django.urls import path

from vrop.planning import views

urlpatterns = [
    path("", views.PlanListView.as_view(), name="plan-list"),
    path("forecast/", views.ForecastView.as_view(), name="forecast"),
]
