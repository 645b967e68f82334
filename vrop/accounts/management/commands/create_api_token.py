"""``vrop manage create_api_token EMAIL --name NAME``: a bearer token for the API.

The key is printed once, alone on stdout (so that scripts can capture it); only its
SHA-256 hash is stored, so it cannot be shown again: create a new one if it is lost.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from vrop.accounts.models import User
from vrop.accounts.services import api_token_create
from vrop.core.errors import ServiceError


class Command(BaseCommand):
    help = "Create an API token for the user with this e-mail and print its key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email", help="the user's e-mail")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. 1C sync")

    def handle(self, *args, email: str, name: str, **options) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with the e-mail {email}.")
        if not user.is_active:
            raise CommandError(f"{email} is not active: a token of theirs would not work.")
        try:
            token, key = api_token_create(user=user, name=name)
        except ServiceError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(key)
        self.stderr.write(
            f"Token “{token.name}” ({token.prefix}…) for {user.email}, role {user.role}. "
            "The key is shown only now: keep it safe."
        )
