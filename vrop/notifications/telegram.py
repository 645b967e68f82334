"""Telegram: the Bot API client (python-telegram-bot, driven synchronously) and the
dispatcher of incoming updates (``/start CODE`` linking, button presses).

The base URL is ``settings.TELEGRAM_BASE_URL`` (``https://api.telegram.org/bot`` by
default), so tests and air-gapped installations point it at a local server. Updates come
either by the webhook (``/notifications/telegram/webhook/<secret>/``) or by long polling
(``vrop manage telegram_poll``); both call ``telegram_update_process``, which handles
each update id once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ServiceError, ValidationError
from vrop.notifications.models import TelegramCallback, TelegramUpdate
from vrop.notifications.services import (
    callback_handler,
    parse_callback_data,
    telegram_link,
    telegram_message_to_chat,
    telegram_unlink,
)

logger = logging.getLogger(__name__)

CALLBACK_ANSWER_LIMIT = 200


def telegram_webhook_secret() -> str:
    """The webhook's secret (URL part and ``X-Telegram-Bot-Api-Secret-Token``): from
    ``VROP_TELEGRAM_WEBHOOK_SECRET``, or derived from the SECRET_KEY."""
    configured = getattr(settings, "TELEGRAM_WEBHOOK_SECRET", "")
    if configured:
        return configured
    return hmac.new(
        settings.SECRET_KEY.encode(), b"vrop.notifications.telegram-webhook", hashlib.sha256
    ).hexdigest()[:40]


def inline_keyboard(rows: list[list[list[str]]] | None):
    """Our button rows ([[label, callback_data or URL], ...]) as an InlineKeyboardMarkup."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label, url=data)
                if data.startswith(("https://", "http://"))
                else InlineKeyboardButton(label, callback_data=data)
                for label, data in row
            ]
            for row in rows
        ]
    )


class TelegramClient:
    """python-telegram-bot's ``Bot`` behind plain synchronous calls: one event loop per
    client, so that the ORM is used between calls, never inside the loop. Use it as a
    context manager, one per batch."""

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        from telegram import Bot
        from telegram.request import HTTPXRequest

        token = token or settings.TELEGRAM_BOT_TOKEN
        if not token:
            raise RuntimeError("VROP_TELEGRAM_BOT_TOKEN is not set")
        self._loop = asyncio.new_event_loop()
        self._request = HTTPXRequest(
            connection_pool_size=4,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            pool_timeout=connect_timeout,
        )
        self._updates_request = HTTPXRequest(
            connection_pool_size=1,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            pool_timeout=connect_timeout,
        )
        self.bot = Bot(
            token,
            base_url=base_url or settings.TELEGRAM_BASE_URL,
            request=self._request,
            get_updates_request=self._updates_request,
        )

    def run(self, coroutine):
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        try:
            self.run(self._request.shutdown())
            self.run(self._updates_request.shutdown())
        finally:
            self._loop.close()

    def __enter__(self) -> TelegramClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the methods we use -----------------------------------------------------------

    def send_message(self, *, chat_id: int | str, text: str, buttons=None) -> int:
        message = self.run(
            self.bot.send_message(chat_id=chat_id, text=text, reply_markup=inline_keyboard(buttons))
        )
        return message.message_id

    def edit_message_text(self, *, chat_id: int | str, message_id: int, text: str) -> None:
        self.run(self.bot.edit_message_text(chat_id=chat_id, message_id=message_id, text=text))

    def answer_callback_query(self, *, query_id: str, text: str, show_alert: bool = False) -> None:
        self.run(
            self.bot.answer_callback_query(
                callback_query_id=query_id,
                text=text[:CALLBACK_ANSWER_LIMIT],
                show_alert=show_alert,
            )
        )

    def get_updates(self, *, offset: int | None, timeout: int) -> list[dict]:
        updates = self.run(
            self.bot.get_updates(
                offset=offset,
                timeout=timeout,
                read_timeout=timeout + 10,
                allowed_updates=["message", "callback_query"],
            )
        )
        return [update.to_dict() for update in updates]

    def set_webhook(self, *, url: str, secret_token: str) -> bool:
        return self.run(
            self.bot.set_webhook(
                url=url, secret_token=secret_token, allowed_updates=["message", "callback_query"]
            )
        )

    def delete_webhook(self) -> bool:
        return self.run(self.bot.delete_webhook())


# --- incoming updates ---------------------------------------------------------------------


def _reply(chat_id: int, text: str, user: User | None = None) -> None:
    telegram_message_to_chat(chat_id=chat_id, text=text, user=user)


def _linked_user(chat_id) -> User | None:
    if not chat_id:
        return None
    return User.objects.filter(telegram_chat_id=chat_id, is_active=True).first()


def _help_text() -> str:
    return _(
        "Hello! This is the bot of Virtual ROP. To get your notifications here, open the "
        "Telegram page in Virtual ROP, get a code and send it here: /start CODE"
    )


def _message(message: dict) -> str:
    chat = message.get("chat") or {}
    chat_id = chat.get("id")
    if not isinstance(chat_id, int):
        return "ignored"
    text = (message.get("text") or "").strip()
    user = _linked_user(chat_id)
    command, _sep, argument = text.partition(" ")
    command = command.split("@", 1)[0]
    with translation.override(settings.LANGUAGE_CODE):
        if command == "/start":
            if chat.get("type") != "private":
                _reply(chat_id, _("Send the code to the bot in a private chat."))
                return "refused"
            code = argument.strip()
            if not code:
                if user is None:
                    _reply(chat_id, _help_text())
                    return "help"
                with translation.override(user.language or settings.LANGUAGE_CODE):
                    _reply(
                        chat_id,
                        _("This chat is linked to %(name)s in Virtual ROP.") % {"name": user},
                        user,
                    )
                return "linked already"
            try:
                user = telegram_link(code=code, chat_id=chat_id)
            except ValidationError as error:
                _reply(chat_id, str(error.message))
                return "refused"
            with translation.override(user.language or settings.LANGUAGE_CODE):
                _reply(
                    chat_id,
                    _(
                        "Done: this chat is linked to %(name)s in Virtual ROP. "
                        "Notifications will come here."
                    )
                    % {"name": user},
                    user,
                )
            return "linked"
        if command == "/stop" and user is not None:
            telegram_unlink(user=user)
            with translation.override(user.language or settings.LANGUAGE_CODE):
                _reply(chat_id, _("This chat is unlinked: no more notifications here."))
            return "unlinked"
        if user is None:
            _reply(chat_id, _help_text())
        else:
            with translation.override(user.language or settings.LANGUAGE_CODE):
                _reply(
                    chat_id,
                    _("I only send notifications. Answer them with their buttons."),
                    user,
                )
        return "help"


def _callback_query(query: dict, after: list[Callable[[], None]]) -> str:
    query_id = str(query.get("id") or "")
    if not query_id:
        return "ignored"
    data = str(query.get("data") or "")
    from_id = (query.get("from") or {}).get("id")
    message = query.get("message") or {}
    chat_id = (message.get("chat") or {}).get("id") or from_id
    try:
        with transaction.atomic():
            record = TelegramCallback.objects.create(
                query_id=query_id[:64], chat_id=from_id, data=data[:64]
            )
    except IntegrityError:
        return "duplicate"
    user = _linked_user(from_id)
    accepted = False
    with translation.override((user.language if user else "") or settings.LANGUAGE_CODE):
        try:
            parsed = parse_callback_data(data)
            if user is None:
                raise PermissionDenied(_("This Telegram chat is not linked to Virtual ROP."))
            handler = callback_handler(parsed.prefix)
            if handler is None:
                raise ValidationError(_("This button no longer works."))
            with transaction.atomic():
                answer = handler(user=user, payload=parsed.payload)
            answer = str(answer or _("Done."))
            accepted = True
        except ServiceError as error:
            answer = str(error.message)
    record.user, record.answer, record.is_accepted = user, answer, accepted
    record.save(update_fields=["user", "answer", "is_accepted"])

    def answer_query() -> None:
        with TelegramClient() as client:
            client.answer_callback_query(query_id=query_id, text=answer, show_alert=not accepted)

    after.append(answer_query)
    message_id = message.get("message_id")
    if accepted and message_id and chat_id:
        original = message.get("text") or ""
        telegram_message_to_chat(
            chat_id=chat_id,
            text=f"{original}\n\n{answer}" if original else answer,
            user=user,
            edit_message_id=message_id,
        )
    return "accepted" if accepted else "refused"


def telegram_update_process(update: dict) -> str:
    """Handle one Telegram update (a dict as the Bot API sends it), once per update id.
    Returns what was done: "linked", "refused", "accepted", "duplicate", "help", ..."""
    update_id = update.get("update_id") if isinstance(update, dict) else None
    if not isinstance(update_id, int):
        return "ignored"
    kind = next((key for key in ("message", "callback_query") if key in update), "other")
    after: list[Callable[[], None]] = []
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    TelegramUpdate.objects.create(update_id=update_id, kind=kind)
            except IntegrityError:
                return "duplicate"
            if kind == "callback_query":
                outcome = _callback_query(update["callback_query"], after)
            elif kind == "message":
                outcome = _message(update["message"])
            else:
                outcome = "ignored"
    except Exception:
        logger.exception("Telegram update %s failed", update_id)
        # Recorded anyway, so that a poison update is not delivered to us forever.
        TelegramUpdate.objects.get_or_create(update_id=update_id, defaults={"kind": "error"})
        return "error"
    for action in after:
        try:
            action()
        except Exception:  # the answer of a button is best effort; the edit is in the outbox
            logger.warning("Telegram callback answer failed", exc_info=True)
    return outcome


def telegram_poll_offset() -> int | None:
    last = TelegramUpdate.objects.order_by("-update_id").values_list("update_id", flat=True).first()
    return None if last is None else last + 1
