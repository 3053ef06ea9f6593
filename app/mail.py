"""Sending e-mail through a pluggable sender.

The application hands a finished ``EmailMessage`` (to, subject, text) to ``send_email``; which
sender delivers it is configuration (``MAIL_SENDER``):

* ``console`` (the default): the message is written to the log as one JSON line. A developer
  copies the magic link from the terminal; nothing leaves the machine.
* ``memory``: messages are kept in ``app.extensions["lw_mail_outbox"]``, for tests and demos.
* ``smtp``: delivered over SMTP with STARTTLS to ``MAIL_SMTP_HOST``/``MAIL_SMTP_PORT`` as
  ``MAIL_FROM``, logging in with ``MAIL_SMTP_USER``/``MAIL_SMTP_PASSWORD`` when set.
* ``package.module:factory``: any callable that returns a sender (an object with
  ``send(message)``), for a mail API the shop prefers.

Senders run inside the request. A message that must survive a crash of the request (receipts,
campaigns) belongs in the outbox of the automations; sign-in links do not, because a lost link
is simply requested again.
"""

from __future__ import annotations

import importlib
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger("app.mail")

OUTBOX_KEY = "lw_mail_outbox"


@dataclass(frozen=True)
class EmailMessage:
    """One plain-text e-mail."""

    to: str
    subject: str
    text: str


class EmailSender(Protocol):
    """Something that delivers an e-mail."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise."""


class ConsoleSender:
    """Write messages to the log instead of sending them (development)."""

    def send(self, message: EmailMessage) -> None:
        """Log the message as one line."""
        log.info(
            "e-mail not sent (console sender)",
            extra={"mail_to": message.to, "subject": message.subject, "text": message.text},
        )


class MemorySender:
    """Keep messages in the app's memory (tests and demos)."""

    def __init__(self, app: Flask) -> None:
        self.outbox: list[EmailMessage] = app.extensions.setdefault(OUTBOX_KEY, [])

    def send(self, message: EmailMessage) -> None:
        """Append the message to the outbox."""
        self.outbox.append(message)


class SmtpSender:
    """Deliver over SMTP with STARTTLS."""

    def __init__(self, app: Flask) -> None:
        self.host = str(app.config.get("MAIL_SMTP_HOST", "localhost"))
        self.port = int(app.config.get("MAIL_SMTP_PORT", 587))
        self.user = app.config.get("MAIL_SMTP_USER")
        self.password = app.config.get("MAIL_SMTP_PASSWORD")
        self.sender = str(app.config.get("MAIL_FROM", "loyalty@localhost"))

    def send(self, message: EmailMessage) -> None:
        """Send the message and wait for the server to accept it."""
        mime = MimeMessage()
        mime["From"] = self.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime.set_content(message.text)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.starttls()
            if self.user:
                smtp.login(str(self.user), str(self.password or ""))
            smtp.send_message(mime)


def _build_sender(app: Flask) -> EmailSender:
    choice = str(app.config.get("MAIL_SENDER") or "console")
    if choice == "console":
        return ConsoleSender()
    if choice == "memory":
        return MemorySender(app)
    if choice == "smtp":
        return SmtpSender(app)
    module_name, _, factory_name = choice.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    sender: EmailSender = factory(app)
    return sender


def mail_sender() -> EmailSender:
    """Return this application's sender (built once, from ``MAIL_SENDER``)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    sender: EmailSender | None = app.extensions.get("lw_mail_sender")
    if sender is None:
        sender = _build_sender(app)
        app.extensions["lw_mail_sender"] = sender
    return sender


def send_email(message: EmailMessage) -> None:
    """Deliver ``message`` with the configured sender."""
    mail_sender().send(message)
