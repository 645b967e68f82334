from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailOrUsernameBackend(ModelBackend):
    """Log in with the e-mail or the username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user_model = get_user_model()
        user = (
            user_model.objects.filter(email__iexact=username.strip()).first()
            or user_model.objects.filter(username=username.strip()).first()
        )
        if user and user.check_password(password) and self.user_can_authenticate(user):
            return user
        user_model().set_password(password)  # same time whether or not the user exists
        return None
