"""Writes of the notifications app and its public API for the other apps.

- ``notify(user=..., text=...)`` writes outbox rows in the current transaction; workers
  deliver them after commit (in the app, Telegram, e-mail).
- ``register_callback(prefix, handler)`` and ``make_callback_data(prefix, payload)``: signed
  Telegram inline buttons that call back into the app that made them.
- ``digest_register(role_or_callable, builder)``: the text of a person's daily digest.
- Telegram linking with one-time codes; marking in-app notifications read.

See docs/notifications.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.errors import NotFound, ValidationError
from vrop.notifications.choices import DeliveryStatus, NotificationChannel
from vrop.notifications.models import OutboxMessage, TelegramLinkCode

logger = logging.getLogger(__name__)

TELEGRAM_TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LINK_CODE_LENGTH = 8
CHANNELS = tuple(NotificationChannel.values)

Buttons = list[list[tuple[str, str]]]


def telegram_is_configured() -> bool:
    return bool(getattr(settings, "TELEGRAM_BOT_TOKEN", ""))


# --- the outbox -------------------------------------------------------------------------


def _schedule_delivery() -> None:
    from vrop.notifications.tasks import deliver_outbox_task

    try:
        deliver_outbox_task()
    except Exception:  # the queue being down must not break the action; the sweep delivers
        logger.exception("could not enqueue the outbox delivery; the periodic sweep will")


def schedule_delivery_on_commit() -> None:
    """Deliver after the current transaction commits (once per transaction)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        entry[1] is _schedule_delivery for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(_schedule_delivery)


def _check_buttons(buttons: Buttons | None) -> list[list[list[str]]]:
    rows: list[list[list[str]]] = []
    for row in buttons or []:
        cells = []
        for label, data in row:
            label, data = str(label), str(data)
            if not label.strip():
                raise ValueError("a button needs a label")
            if not data.startswith(("https://", "http://")) and (
                not data or len(data.encode()) > CALLBACK_DATA_LIMIT
            ):
                raise ValueError(f"callback_data must be 1-{CALLBACK_DATA_LIMIT} bytes: {data!r}")
            cells.append([label, data])
        if cells:
            rows.append(cells)
    return rows


def _address(user: User, channel: str) -> str | None:
    """Where ``channel`` reaches ``user``, or None when it does not."""
    if channel == NotificationChannel.INAPP:
        return ""
    if channel == NotificationChannel.TELEGRAM:
        if telegram_is_configured() and user.telegram_chat_id:
            return str(user.telegram_chat_id)
        return None
    if channel == NotificationChannel.EMAIL:
        return user.email or None
    raise ValueError(f"unknown channel {channel!r}: use one of {CHANNELS}")


def _insert(message: OutboxMessage) -> bool:
    """Insert unless the same dedupe key exists for the user and channel."""
    if message.dedupe_key and message.user_id is not None:
        exists = OutboxMessage.objects.filter(
            user_id=message.user_id, channel=message.channel, dedupe_key=message.dedupe_key
        ).exists()
        if exists:
            return False
        try:
            with transaction.atomic():
                message.save()
        except IntegrityError:  # two sweeps at once: the other one wrote it
            return False
        return True
    message.save()
    return True


def notify(
    *,
    user: User,
    text: str,
    channels: Sequence[str] = ("inapp", "telegram"),
    buttons: Buttons | None = None,
    dedupe_key: str | None = None,
    subject: str = "",
    link: str = "",
) -> list[OutboxMessage]:
    """Write one outbox row per channel in ``channels`` that reaches ``user`` (Telegram only
    if their chat is linked and a bot is configured, e-mail only if they have one), in the
    current transaction; delivery starts when it commits.

    ``buttons``: rows of (label, callback_data) for Telegram; callback_data made with
    ``make_callback_data`` (or an http(s) URL for a link button). ``dedupe_key``: the same
    key for the same user and channel never makes a second row, so periodic sweeps may call
    this again and again. Returns the rows written (none for channels already notified).
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("a notification needs a text")
    if user is None or user.pk is None:
        raise ValueError("a notification needs a saved user")
    keyboard = _check_buttons(buttons)
    now = timezone.now()
    written: list[OutboxMessage] = []
    for channel in dict.fromkeys(channels):
        address = _address(user, channel)
        if address is None:
            continue
        message = OutboxMessage(
            channel=channel,
            user=user,
            address=address,
            subject=subject[:200],
            text=text,
            link=link[:500],
            dedupe_key=(dedupe_key or "")[:200],
        )
        if channel == NotificationChannel.INAPP:
            message.status, message.sent_at = DeliveryStatus.SENT, now
        else:
            message.status, message.next_attempt_at = DeliveryStatus.PENDING, now
            if channel == NotificationChannel.TELEGRAM:
                message.text = _telegram_text(text, link)
                if keyboard:
                    message.payload = {"buttons": keyboard}
        if _insert(message):
            written.append(message)
    if any(m.channel != NotificationChannel.INAPP for m in written):
        schedule_delivery_on_commit()
    return written


def _telegram_text(text: str, link: str = "") -> str:
    if link:
        base = getattr(settings, "VROP_BASE_URL", "").rstrip("/")
        if link.startswith("/") and base:
            link = base + link
        if link.startswith(("https://", "http://")):
            text = f"{text}\n{link}"
    if len(text) > TELEGRAM_TEXT_LIMIT:
        text = text[: TELEGRAM_TEXT_LIMIT - 1] + "…"
    return text


def telegram_message_to_chat(
    *, chat_id: int, text: str, user: User | None = None, edit_message_id: int | None = None
) -> OutboxMessage:
    """A Telegram message to a chat (a reply of the bot, or an edit of its own message),
    through the outbox like everything else."""
    payload = {"edit_message_id": edit_message_id} if edit_message_id else {}
    message = OutboxMessage.objects.create(
        channel=NotificationChannel.TELEGRAM,
        user=user,
        address=str(chat_id),
        text=_telegram_text(text),
        payload=payload,
        status=DeliveryStatus.PENDING,
        next_attempt_at=timezone.now(),
    )
    schedule_delivery_on_commit()
    return message


# --- in-app -------------------------------------------------------------------------------


def notification_mark_read(*, user: User, notification_id: int) -> OutboxMessage:
    """Mark one of ``user``'s in-app notifications read (idempotent)."""
    message = OutboxMessage.objects.filter(
        pk=notification_id, user=user, channel=NotificationChannel.INAPP
    ).first()
    if message is None:
        raise NotFound(_("There is no such notification."))
    if message.read_at is None:
        message.read_at = timezone.now()
        OutboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(
            read_at=message.read_at
        )
    return message


def notification_mark_all_read(*, user: User) -> int:
    """Mark all of ``user``'s in-app notifications read; returns how many were unread."""
    return OutboxMessage.objects.filter(
        user=user, channel=NotificationChannel.INAPP, read_at__isnull=True
    ).update(read_at=timezone.now())


# --- signed Telegram buttons --------------------------------------------------------------

PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_CALLBACKS: dict[str, Callable[..., str]] = {}


def register_callback(prefix: str, handler: Callable[..., str]) -> None:
    """Route presses of buttons made with ``make_callback_data(prefix, ...)`` to
    ``handler(user=..., payload=...)``, which returns the answer text or raises
    ``ServiceError`` (its message is the answer). Call it in ``AppConfig.ready``."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(
            f"a callback prefix is 1-16 of [a-z0-9_], starting with a letter: {prefix!r}"
        )
    existing = _CALLBACKS.get(prefix)
    if existing is not None and existing is not handler:
        raise ValueError(f"callback prefix {prefix!r} is already registered")
    _CALLBACKS[prefix] = handler


def callback_handler(prefix: str) -> Callable[..., str] | None:
    return _CALLBACKS.get(prefix)


def _signature(prefix: str, payload: str) -> str:
    key = hashlib.sha256(("vrop.notifications.callback:" + settings.SECRET_KEY).encode()).digest()
    digest = hmac.new(key, f"{prefix}:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()  # 12 characters, 72 bits


def make_callback_data(prefix: str, payload: str) -> str:
    """``"<prefix>:<payload>:<signature>"``, signed with the SECRET_KEY so that it cannot
    be forged; at most 64 bytes (Telegram's limit), so keep payloads short (ids)."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"bad callback prefix {prefix!r}")
    payload = str(payload)
    data = f"{prefix}:{payload}:{_signature(prefix, payload)}"
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback_data longer than {CALLBACK_DATA_LIMIT} bytes: {data!r}")
    return data


@dataclass(frozen=True)
class CallbackData:
    prefix: str
    payload: str


def parse_callback_data(data: str) -> CallbackData:
    """Check the signature; raise ``ValidationError`` for anything forged or malformed."""
    prefix, _sep, rest = (data or "").partition(":")
    payload, _sep2, signature = rest.rpartition(":")
    if not (prefix and _sep and _sep2 and signature) or not PREFIX_RE.match(prefix):
        raise ValidationError(_("This button is not valid."), code="forged")
    if not hmac.compare_digest(signature, _signature(prefix, payload)):
        raise ValidationError(_("This button is not valid."), code="forged")
    return CallbackData(prefix=prefix, payload=payload)


# --- digests ------------------------------------------------------------------------------

DigestBuilder = Callable[..., "str | None"]
_DIGESTS: list[tuple[str | Callable[[User], bool], DigestBuilder]] = []


def digest_register(role_or_callable: str | Callable[[User], bool], builder: DigestBuilder) -> None:
    """Register the text of the daily digest: for a role ("manager", "head", "owner",
    "finance", "supply") or for the users a predicate ``f(user) -> bool`` accepts.
    ``builder(user=..., day=...)`` returns the text, or None/"" for nothing to send. The
    latest registration that matches a user wins; the default counts their tasks."""
    if not callable(builder):
        raise ValueError("a digest builder must be callable")
    if isinstance(role_or_callable, str):
        from vrop.accounts.choices import Role

        if role_or_callable not in Role.values:
            raise ValueError(f"unknown role {role_or_callable!r}")
    elif not callable(role_or_callable):
        raise ValueError("register a digest for a role or a predicate")
    _DIGESTS.append((role_or_callable, builder))


def digest_builder_for(user: User) -> DigestBuilder:
    for matcher, builder in reversed(_DIGESTS):
        if (matcher == user.role) if isinstance(matcher, str) else matcher(user):
            return builder
    from vrop.notifications.digests import default_digest

    return default_digest


def digest_key(user: User, day: date) -> str:
    return f"digest:{user.pk}:{day.isoformat()}"


# --- Telegram linking ---------------------------------------------------------------------


def _link_code_minutes() -> int:
    return int(getattr(settings, "TELEGRAM_LINK_CODE_MINUTES", 30))


@transaction.atomic
def telegram_link_code_create(*, user: User) -> TelegramLinkCode:
    """A new one-time code for ``user`` (their earlier unused codes stop working)."""
    if not user.is_active:
        raise ValidationError(_("This account is not active."))
    TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
    now = timezone.now()
    for _attempt in range(5):
        code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _i in range(LINK_CODE_LENGTH))
        if not TelegramLinkCode.objects.filter(code=code).exists():
            break
    return TelegramLinkCode.objects.create(
        user=user, code=code, expires_at=now + timedelta(minutes=_link_code_minutes())
    )


@transaction.atomic
def telegram_link(*, code: str, chat_id: int) -> User:
    """Link the Telegram chat ``chat_id`` to the owner of a one-time ``code``.

    Unknown, used and expired codes are refused and nothing changes. A chat belongs to one
    user: linking it moves it away from anyone who had it."""
    code = (code or "").strip().upper()
    link = (
        TelegramLinkCode.objects.select_for_update()
        .select_related("user")
        .filter(code=code)
        .first()
        if code
        else None
    )
    if link is None:
        raise ValidationError(
            _("This code is unknown. Get a new code on the Telegram page of Virtual ROP."),
            field="code",
        )
    if link.used_at is not None:
        raise ValidationError(
            _("This code has already been used. Get a new code on the Telegram page."),
            field="code",
        )
    now = timezone.now()
    if link.expires_at <= now:
        raise ValidationError(
            _("This code has expired. Get a new code on the Telegram page."), field="code"
        )
    user = link.user
    if not user.is_active or user.left_on is not None:
        raise ValidationError(_("This account is not active."), field="code")
    User.objects.filter(telegram_chat_id=chat_id).exclude(pk=user.pk).update(telegram_chat_id=None)
    User.objects.filter(pk=user.pk).update(telegram_chat_id=chat_id)
    user.telegram_chat_id = chat_id
    link.used_at, link.chat_id = now, chat_id
    link.save(update_fields=["used_at", "chat_id"])
    return user


@transaction.atomic
def telegram_unlink(*, user: User) -> None:
    """Stop Telegram messages to ``user``; their waiting Telegram messages are dropped."""
    User.objects.filter(pk=user.pk).update(telegram_chat_id=None)
    user.telegram_chat_id = None
    OutboxMessage.objects.filter(
        user=user, channel=NotificationChannel.TELEGRAM, status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.FAILED, last_error="Telegram unlinked")
