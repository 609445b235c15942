"""Text messages: a small backend interface, chosen by a setting, as Django's
email backends are (`LOYALTY_SMS_BACKEND`, a dotted path).

- `loyalty.sms.ConsoleSmsBackend` (the default) writes each message to the
  standard output, as the console email backend does: development and demos
  send nothing;
- `loyalty.sms.LocmemSmsBackend` keeps them in `loyalty.sms.outbox` (tests);
- a provider's backend subclasses `BaseSmsBackend` and implements `send`,
  raising on failure so the notification task retries it.

`sms_send` is the `sms` channel of loyalty.notifications.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings
from django.utils.module_loading import import_string

from loyalty.models import Notification
from loyalty.selectors import program_settings_get

# Longer texts cost several messages; the inbox and email carry the whole of it.
SMS_MAX_LENGTH = 320


@dataclass(frozen=True)
class TextMessage:
    to: str
    text: str


class BaseSmsBackend:
    """Sends text messages. `send` raises when the message did not go out."""

    def send(self, message: TextMessage) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send(self, message: TextMessage) -> None:
        with self._lock:
            self.stream.write(f"SMS to {message.to}\n{message.text}\n{'-' * 40}\n")
            self.stream.flush()


outbox: list[TextMessage] = []


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps the messages in `loyalty.sms.outbox` (tests empty it)."""

    def send(self, message: TextMessage) -> None:
        outbox.append(message)


def sms_backend() -> BaseSmsBackend:
    """The backend `LOYALTY_SMS_BACKEND` names (a system check refuses one that
    cannot be imported, at start-up)."""
    return import_string(settings.LOYALTY_SMS_BACKEND)()


def sms_text(notification: Notification) -> str:
    """The merchant's name, the title and the body, cut to SMS_MAX_LENGTH."""
    text = f"{program_settings_get().merchant_name}: {notification.title}. {notification.body}"
    return text if len(text) <= SMS_MAX_LENGTH else text[: SMS_MAX_LENGTH - 1] + "…"


def sms_send(notification: Notification) -> None:
    """The `sms` channel: the notification to the member's phone."""
    phone = notification.member.phone
    if not phone:
        raise ValueError("The member has no phone number.")
    sms_backend().send(TextMessage(to=phone, text=sms_text(notification)))
