"""The `email` channel of loyalty.notifications: a notification as an HTML and
a text email through Django's email backend, in the member's language, with
the merchant's name and brand colours (ProgramSettings).

Every marketing email carries a one-click unsubscribe link that works
without signing in, and the headers of RFC 8058 so that mail clients show
their own unsubscribe button:

    List-Unsubscribe: <https://…/unsubscribe/<token>/>, <mailto:…>
    List-Unsubscribe-Post: List-Unsubscribe=One-Click

The token is the member's public id signed with the site's secret key
(django.core.signing, its own salt): it names one member, cannot be made for
another without the key, and is refused when tampered with. It does not
expire: an unsubscribe link in an old email must still work.
"""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import translation

from loyalty.models import Notification
from loyalty.notifications import kind_get
from loyalty.selectors import program_settings_get

UNSUBSCRIBE_SALT = "loyalty.unsubscribe"


def unsubscribe_token(*, public_id: str) -> str:
    """The signed token of the member's unsubscribe link."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(public_id)


def unsubscribe_token_read(token: str) -> str | None:
    """The member's public id a token names, or None for a tampered or made-up one."""
    try:
        return signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None


def unsubscribe_url(*, public_id: str) -> str:
    """The absolute one-click unsubscribe URL of the member (LOYALTY_SITE_URL)."""
    path = reverse("unsubscribe", kwargs={"token": unsubscribe_token(public_id=public_id)})
    return settings.LOYALTY_SITE_URL + path


def unsubscribe_headers(*, public_id: str) -> dict[str, str]:
    """The List-Unsubscribe headers of RFC 2369 and RFC 8058."""
    targets = [f"<{unsubscribe_url(public_id=public_id)}>"]
    if settings.LOYALTY_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.LOYALTY_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def email_message(notification: Notification) -> EmailMultiAlternatives:
    """The email of a notification (its member loaded): subject, text and
    HTML rendered in the member's language. A kind may have its own
    templates, `emails/notifications/<kind>.html` and `.txt`; the others use
    `message.html` and `message.txt`."""
    member = notification.member
    program = program_settings_get()
    marketing = kind_get(notification.kind).marketing
    context: dict[str, Any] = {
        "member": member,
        "notification": notification,
        "program": program,
        "link_url": settings.LOYALTY_SITE_URL + notification.link if notification.link else "",
        "portal_url": settings.LOYALTY_SITE_URL + reverse("portal:home"),
        "preferences_url": settings.LOYALTY_SITE_URL + reverse("portal:notification_preferences"),
        "unsubscribe_url": unsubscribe_url(public_id=member.public_id) if marketing else "",
    }
    names = [f"emails/notifications/{notification.kind}", "emails/notifications/message"]
    with translation.override(member.language):
        text = select_template([f"{name}.txt" for name in names]).render(context)
        html = select_template([f"{name}.html" for name in names]).render(context)
        subject = render_to_string("emails/notifications/subject.txt", context).strip()
    sender = formataddr((program.merchant_name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=sender,
        to=[member.email],
        headers=unsubscribe_headers(public_id=member.public_id) if marketing else None,
    )
    message.attach_alternative(html, "text/html")
    return message


def email_send(notification: Notification) -> None:
    """The `email` channel: raises when the backend could not send."""
    if not notification.member.email:
        raise ValueError("The member has no email address.")
    email_message(notification).send(fail_silently=False)
