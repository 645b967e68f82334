from django.urls import path

from vrop.accounts import views

urlpatterns = [
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("tokens/", views.ApiTokenCreateView.as_view(), name="token-create"),
    path("tokens/<int:token_id>/revoke/", views.ApiTokenRevokeView.as_view(), name="token-revoke"),
]
