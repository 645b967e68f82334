"""E-mail: Django's mail backend (SMTP in production), one connection per batch."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext as _


class PermanentEmailError(Exception):
    """The server refused the message for good (a 5xx reply, a refused recipient)."""


class EmailSender:
    def __init__(self) -> None:
        self._connection = None

    def _open(self):
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
            self._connection.open()
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - a broken connection is dropped either way
                pass
            self._connection = None

    def close(self) -> None:
        self._drop()

    def send(self, *, address: str, subject: str, text: str, link: str = "") -> str:
        """Send one message; raises PermanentEmailError or a transient error. Returns the
        channel's id of the message (none for e-mail)."""
        subject = (subject or text.splitlines()[0])[:150] or _("Virtual ROP")
        body = text
        if link:
            base = getattr(settings, "VROP_BASE_URL", "").rstrip("/")
            body = f"{text}\n\n{base + link if link.startswith('/') else link}"
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            connection=self._open(),
        )
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentEmailError(str(error)) from error
        except smtplib.SMTPResponseException as error:
            self._drop()
            if error.smtp_code >= 500:
                raise PermanentEmailError(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise
        except Exception:
            self._drop()
            raise
        return ""
