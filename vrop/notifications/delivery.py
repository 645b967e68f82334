"""Delivery of the outbox: claim due rows, respect the channels' rate limits, send, mark.

A row's life: ``pending`` → claimed (``sending``, with ``claimed_at`` and a claim token)
→ ``send_started_at`` written and committed just before the request leaves → ``sent``
(or back to ``pending`` with a later ``next_attempt_at``, or ``failed``).

Claims: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers take
disjoint rows; on SQLite a conditional ``UPDATE … WHERE status='pending'`` inside the
(exclusive) write transaction. Every later write on the row is conditional on the claim
token, so a worker that lost its claim cannot overwrite another's result.

Exactly once, and where it cannot be: a row whose worker died after claiming it but
before ``send_started_at`` was committed never reached the channel, so it is simply
claimed again. A row whose worker died (or whose connection broke) after the request
left is *ambiguous*: Telegram has no idempotency key, and the message may have arrived.
By default such a row becomes ``unconfirmed`` and is not sent again (no duplicates; the
window is one HTTP request, bounded by its timeout); with
``NOTIFICATIONS_RESEND_INTERRUPTED = True`` it is sent again (nothing lost; a duplicate
is possible in that window). See docs/notifications.md.
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from collections import deque
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from vrop.accounts.models import User
from vrop.notifications import ratelimit
from vrop.notifications.choices import DeliveryStatus, NotificationChannel
from vrop.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

TELEGRAM_PER_CHAT_INTERVAL = 1.0  # seconds: 1 message a second to one chat
TELEGRAM_GLOBAL_RATE = 25  # messages a second in all
GLOBAL_KEY = "telegram:all"
INTERRUPTED = "interrupted while sending: it may have arrived"


def _setting(name: str, default):
    return getattr(settings, name, default)


def claim_timeout() -> float:
    """Seconds after which a claim of a silent worker is taken as dead."""
    return float(_setting("NOTIFICATIONS_CLAIM_TIMEOUT", 120))


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 5, 10, 20, … 15 min."""
    base = float(_setting("NOTIFICATIONS_BACKOFF_BASE", 5))
    cap = float(_setting("NOTIFICATIONS_BACKOFF_CAP", 900))
    return min(base * 2 ** max(attempts - 1, 0), cap)


def chat_key(chat_id: str) -> str:
    return f"telegram:chat:{chat_id}"


# --- outcomes of one send ----------------------------------------------------------------


class RetryLater(Exception):
    """Not delivered, safe to try again (the request never reached the channel, or the
    channel said so). ``after``: the channel's own wait (429), else exponential back-off."""

    def __init__(self, message: str, *, after: float | None = None, hold_key: str = ""):
        super().__init__(message)
        self.after = after
        self.hold_key = hold_key


class Permanent(Exception):
    """The channel refused the message for good (blocked bot, unknown chat, bad address)."""


class Ambiguous(Exception):
    """The request left and no answer came back: the message may have arrived."""


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    unconfirmed: int = 0
    recovered: int = 0
    lost_claims: int = 0
    next_due_in: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


# --- senders ----------------------------------------------------------------------------


class Senders:
    """The channels' clients, opened on first use and closed after the batch."""

    def __init__(self) -> None:
        self._telegram = None
        self._email = None

    def close(self) -> None:
        for client in (self._telegram, self._email):
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing a broken client
                    logger.debug("closing a channel client failed", exc_info=True)
        self._telegram = self._email = None

    def send(self, message: OutboxMessage) -> str:
        if message.channel == NotificationChannel.TELEGRAM:
            return self._send_telegram(message)
        if message.channel == NotificationChannel.EMAIL:
            return self._send_email(message)
        return ""

    def _send_email(self, message: OutboxMessage) -> str:
        from vrop.notifications.email import EmailSender, PermanentEmailError

        if self._email is None:
            self._email = EmailSender()
        try:
            return self._email.send(
                address=message.address,
                subject=message.subject,
                text=message.text,
                link=message.link,
            )
        except PermanentEmailError as error:
            raise Permanent(str(error)) from error
        except Exception as error:  # connection refused, 4xx, disconnects: try again later
            raise RetryLater(f"{type(error).__name__}: {error}") from error

    def _send_telegram(self, message: OutboxMessage) -> str:
        import httpx
        from telegram.error import (
            BadRequest,
            ChatMigrated,
            Forbidden,
            NetworkError,
            RetryAfter,
            TelegramError,
            TimedOut,
        )

        from vrop.notifications.telegram import TelegramClient

        if self._telegram is None:
            self._telegram = TelegramClient()
        client = self._telegram
        edit_id = (message.payload or {}).get("edit_message_id")
        try:
            if edit_id:
                try:
                    client.edit_message_text(
                        chat_id=message.address, message_id=edit_id, text=message.text
                    )
                    return str(edit_id)
                except BadRequest as error:
                    if "not modified" in str(error).lower():
                        return str(edit_id)
                    # Too old or gone: the result goes as a new message instead.
            message_id = client.send_message(
                chat_id=message.address,
                text=message.text,
                buttons=(message.payload or {}).get("buttons"),
            )
            return str(message_id)
        except RetryAfter as error:
            with warnings.catch_warnings():  # int today, timedelta in a future version
                warnings.simplefilter("ignore")
                after = error.retry_after
            seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
            raise RetryLater(str(error), after=seconds, hold_key=chat_key(message.address))
        except ChatMigrated as error:
            _chat_migrated(message, error.new_chat_id)
            raise RetryLater(str(error), after=0)
        except (Forbidden, BadRequest) as error:
            raise Permanent(f"{type(error).__name__}: {error}") from error
        except TimedOut as error:
            if isinstance(error.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise RetryLater(f"TimedOut: {error}") from error
            raise Ambiguous(f"TimedOut: {error}") from error
        except NetworkError as error:
            if isinstance(error.__cause__, httpx.ReadError | httpx.RemoteProtocolError):
                raise Ambiguous(f"NetworkError: {error}") from error
            # Connection refused, a 5xx answer, a bad gateway: it did not go.
            raise RetryLater(f"NetworkError: {error}") from error
        except TelegramError as error:  # a wrong token and the like: retried with back-off
            raise RetryLater(f"{type(error).__name__}: {error}") from error


def _chat_migrated(message: OutboxMessage, new_chat_id: int) -> None:
    """A group became a supergroup: its chat id changed; follow it."""
    old = message.address
    OutboxMessage.objects.filter(
        channel=NotificationChannel.TELEGRAM, address=old, status__in=["pending", "sending"]
    ).update(address=str(new_chat_id))
    User.objects.filter(telegram_chat_id=int(old)).update(telegram_chat_id=new_chat_id)
    message.address = str(new_chat_id)


# --- the batch ----------------------------------------------------------------------------


def recover_interrupted(*, now=None) -> tuple[int, int]:
    """Claims older than the claim timeout belong to a worker that died. Rows that never
    started sending go back to the queue; rows that did are ambiguous (see the module's
    docstring). Returns (requeued, unconfirmed)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=claim_timeout())
    stale = OutboxMessage.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
    requeued = stale.filter(send_started_at__isnull=True).update(
        status=DeliveryStatus.PENDING, claim_token="", claimed_at=None, next_attempt_at=now
    )
    started = stale.filter(send_started_at__isnull=False)
    if _setting("NOTIFICATIONS_RESEND_INTERRUPTED", False):
        requeued += started.update(
            status=DeliveryStatus.PENDING,
            claim_token="",
            claimed_at=None,
            send_started_at=None,
            next_attempt_at=now,
            last_error=INTERRUPTED + "; sent again (a duplicate is possible)",
        )
        unconfirmed = 0
    else:
        unconfirmed = started.update(
            status=DeliveryStatus.UNCONFIRMED,
            claim_token="",
            next_attempt_at=None,
            last_error=INTERRUPTED + "; not sent again, so that nobody gets it twice",
        )
    if requeued or unconfirmed:
        logger.warning(
            "outbox recovery: %s requeued, %s unconfirmed after a dead worker",
            requeued,
            unconfirmed,
        )
    return requeued, unconfirmed


def claim(*, limit: int, now=None) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for this worker."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    # A chat reads its messages in the order they were written: a Telegram message waits
    # while an earlier one to the same chat is still pending or being sent.
    earlier = OutboxMessage.objects.filter(
        channel=OuterRef("channel"),
        address=OuterRef("address"),
        id__lt=OuterRef("id"),
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING],
    )
    due = (
        OutboxMessage.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .exclude(Q(channel=NotificationChannel.TELEGRAM) & Exists(earlier))
        .order_by("next_attempt_at", "id")
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        OutboxMessage.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING,
            claimed_at=now,
            claim_token=token,
            send_started_at=None,
        )
    return list(
        OutboxMessage.objects.filter(
            pk__in=ids, claim_token=token, status=DeliveryStatus.SENDING
        ).order_by("next_attempt_at", "id")
    )


def _mine(message: OutboxMessage):
    return OutboxMessage.objects.filter(
        pk=message.pk, status=DeliveryStatus.SENDING, claim_token=message.claim_token
    )


def _requeue(message: OutboxMessage, *, delay: float, error: str | None = None) -> None:
    fields = {
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": timezone.now() + timedelta(seconds=max(delay, 0)),
        "claim_token": "",
        "claimed_at": None,
        "send_started_at": None,
    }
    if error is not None:
        fields["last_error"] = error[:2000]
    _mine(message).update(**fields)


def _finish(message: OutboxMessage, status: str, *, error: str = "", external_id: str = "") -> None:
    _mine(message).update(
        status=status,
        sent_at=timezone.now() if status == DeliveryStatus.SENT else None,
        last_error=error[:2000],
        external_id=external_id[:64],
        claim_token="",
        next_attempt_at=None,
    )


def _telegram_limits(message: OutboxMessage) -> list[ratelimit.Limit]:
    return [
        ratelimit.Limit(chat_key(message.address), TELEGRAM_PER_CHAT_INTERVAL),
        ratelimit.Limit(GLOBAL_KEY, 1 / TELEGRAM_GLOBAL_RATE, TELEGRAM_GLOBAL_RATE),
    ]


def deliver_one(message: OutboxMessage, senders: Senders) -> str:
    """Send one claimed row (its rate-limit tokens already taken); returns the name of the
    outcome (a DeliveryReport field)."""
    is_telegram = message.channel == NotificationChannel.TELEGRAM
    started = timezone.now()
    if not _mine(message).update(
        send_started_at=started, claimed_at=started, attempts=F("attempts") + 1
    ):
        return "lost_claims"
    message.attempts += 1
    try:
        external_id = senders.send(message)
    except RetryLater as error:
        if error.hold_key and error.after:
            ratelimit.hold(error.hold_key, until=time.time() + error.after)
        if error.after is None:
            if message.attempts >= int(_setting("NOTIFICATIONS_MAX_ATTEMPTS", 20)):
                _finish(message, DeliveryStatus.FAILED, error=str(error))
                return "failed"
            delay = backoff(message.attempts)
        else:
            delay = error.after
        _requeue(message, delay=delay, error=str(error))
        return "retried"
    except Permanent as error:
        _finish(message, DeliveryStatus.FAILED, error=str(error))
        return "failed"
    except Ambiguous as error:
        if _setting("NOTIFICATIONS_RESEND_INTERRUPTED", False):
            _requeue(message, delay=backoff(message.attempts), error=str(error))
            return "retried"
        _finish(message, DeliveryStatus.UNCONFIRMED, error=f"{INTERRUPTED}: {error}")
        return "unconfirmed"
    except Exception as error:  # a bug in a sender must not lose the message
        logger.exception("sending outbox message %s failed", message.pk)
        _requeue(message, delay=backoff(message.attempts), error=repr(error))
        return "retried"
    _finish(message, DeliveryStatus.SENT, external_id=external_id)
    if is_telegram:
        # The next message to this chat leaves a full interval after this one was answered,
        # so the intervals hold at Telegram's end whatever the network's jitter.
        ratelimit.hold(chat_key(message.address), until=time.time() + TELEGRAM_PER_CHAT_INTERVAL)
    return "sent"


def next_due_in(*, now=None) -> float | None:
    now = now or timezone.now()
    first = OutboxMessage.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        first=Min("next_attempt_at")
    )["first"]
    if first is None:
        return None
    return max((first - now).total_seconds(), 0.0)


def _lanes(messages: list[OutboxMessage]) -> dict[str, deque[OutboxMessage]]:
    """One lane per Telegram chat (its messages in order), one for everything else."""
    lanes: dict[str, deque[OutboxMessage]] = {}
    for message in messages:
        key = (
            chat_key(message.address)
            if message.channel == NotificationChannel.TELEGRAM
            else "direct"
        )
        lanes.setdefault(key, deque()).append(message)
    return lanes


def deliver_outbox(*, limit: int = 100, max_seconds: float = 30.0) -> DeliveryReport:
    """Deliver what is due: recover dead claims, claim a batch, send it. Safe to run in any
    number of processes at once.

    The batch goes round-robin over the chats, so one chat that must wait (1 message a
    second) does not hold up the others; a wait longer than ``NOTIFICATIONS_MAX_INLINE_WAIT``
    puts that chat's messages back in the queue for then."""
    report = DeliveryReport()
    deadline = time.monotonic() + max_seconds
    max_inline = float(_setting("NOTIFICATIONS_MAX_INLINE_WAIT", 1.5))
    report.recovered, report.unconfirmed = recover_interrupted()
    claimed = claim(limit=limit)
    report.claimed = len(claimed)
    lanes = _lanes(claimed)
    senders = Senders()

    def put_back(key: str, delay: float) -> None:
        for message in lanes.pop(key):
            _requeue(message, delay=delay)
            report.deferred += 1

    try:
        while lanes:
            if time.monotonic() > deadline:
                for key in list(lanes):
                    put_back(key, 0)
                break
            progressed, shortest_wait = False, max_inline
            for key in list(lanes):
                lane = lanes[key]
                message = lane[0]
                if message.channel == NotificationChannel.TELEGRAM:
                    wait = ratelimit.acquire(_telegram_limits(message))
                    if wait > max_inline:
                        put_back(key, wait)
                        continue
                    if wait > 0:
                        shortest_wait = min(shortest_wait, wait)
                        continue
                lane.popleft()
                outcome = deliver_one(message, senders)
                setattr(report, outcome, getattr(report, outcome) + 1)
                progressed = True
                if lane and outcome == "retried":
                    put_back(key, 0)  # the rest waits behind the retried one (order per chat)
                    continue
                if not lane:
                    del lanes[key]
            if lanes and not progressed:
                time.sleep(max(0.0, min(shortest_wait, deadline - time.monotonic())))
    finally:
        senders.close()
    report.next_due_in = next_due_in()
    if report.claimed:
        logger.info("outbox batch: %s", report.as_dict())
    return report
