from django.urls import path

from vrop.notifications import views

urlpatterns = [
    path("", views.notification_list_view, name="notification-list"),
    path("bell/", views.notification_bell_view, name="notification-bell"),
    path("<int:pk>/read/", views.notification_read_view, name="notification-read"),
    path("read-all/", views.notification_read_all_view, name="notification-read-all"),
    path("telegram/", views.telegram_link_view, name="telegram-link"),
    path("telegram/webhook/<str:secret>/", views.telegram_webhook_view, name="telegram-webhook"),
]
