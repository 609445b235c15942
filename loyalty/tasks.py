"""Celery tasks of the platform: jobs, the staff invitation, notifications."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from celery import Task, shared_task
from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from loyalty.jobs import job_run
from loyalty.models import User
from loyalty.notifications import DeliveryFailed, deliveries_off, delivery_send, notify
from loyalty.selectors import program_settings_get


@shared_task(name="loyalty.run_job")
def run_job(name: str, as_of: str | None = None) -> str:
    """Beat's entry to the job registry: the same code path as `manage.py run_jobs`."""
    moment = parse_datetime(as_of) if as_of else timezone.now()
    if moment is None:
        raise ValueError(f"Not an ISO 8601 time: {as_of!r}")
    return job_run(name, as_of=moment)


@shared_task(name="loyalty.send_staff_invitation")
def send_staff_invitation(user_id: int, site_url: str, language: str) -> None:
    """Email a new staff account a link to set its password and sign in."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "program": program_settings_get(),
        "set_password_url": site_url.rstrip("/") + path,
    }
    with translation.override(language):
        subject = render_to_string("emails/loyalty/staff_invitation_subject.txt", context).strip()
        body = render_to_string("emails/loyalty/staff_invitation_message.txt", context)
    send_mail(subject, body, None, [user.email])


@shared_task(
    bind=True,
    name="loyalty.notification_deliver",
    autoretry_for=(DeliveryFailed,),
    retry_backoff=30,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=settings.LOYALTY_NOTIFICATION_RETRIES,
)
def notification_deliver(self: Task, delivery_id: int) -> str:
    """Send one notification delivery (loyalty.notifications.delivery_send):
    once, however often this task runs; a failure is retried with backoff."""
    return delivery_send(
        delivery_id=delivery_id, last_attempt=self.request.retries >= self.max_retries
    )


@shared_task(name="loyalty.notification_create")
def notification_create(
    member_id: int,
    kind: str,
    context: dict[str, Any],
    event_key: str,
    at: str | None = None,
    inbox_only: bool = False,
) -> bool:
    """`notify` after a commit (loyalty.notifications.notify_on_commit):
    idempotent by `event_key`; `inbox_only` as `deliveries_off`. Returns
    whether a notification was written."""
    member_model = apps.get_model("members", "Member")
    with transaction.atomic():
        member = member_model.objects.filter(pk=member_id).first()
        return _notification_write(member, kind, context, event_key, at, inbox_only)


@shared_task(name="loyalty.notifications_create")
def notifications_create(items: list[list[Any]]) -> int:
    """`notification_create` for each item (its arguments, in order) in one
    transaction, the members read in one statement
    (loyalty.notifications.notifications_batched). Returns how many
    notifications were written: an item written already (a retry) is
    skipped by its event key."""
    member_model = apps.get_model("members", "Member")
    with transaction.atomic():
        members = member_model.objects.in_bulk({item[0] for item in items})
        return sum(_notification_write(members.get(item[0]), *item[1:]) for item in items)


def _notification_write(
    member: Any,
    kind: str,
    context: dict[str, Any],
    event_key: str,
    at: str | None,
    inbox_only: bool,
) -> bool:
    if member is None:
        return False
    moment = parse_datetime(at) if at else None
    with deliveries_off() if inbox_only else nullcontext():
        return notify(member, kind, context, event_key=event_key, at=moment) is not None


@shared_task(name="loyalty.webhooks_relay")
def webhooks_relay_task() -> str:
    """Deliver the webhook events that are due (queued after a commit that
    wrote some; the `webhooks_relay` job sweeps up whatever this misses)."""
    from loyalty.webhook_relay import webhooks_relay

    return str(webhooks_relay())


@shared_task(name="loyalty.send_webhook_disabled_notice")
def send_webhook_disabled_notice(endpoint_id: int) -> None:
    """Email the managers that a webhook endpoint was disabled, and why."""
    from loyalty.models import WebhookEndpoint
    from loyalty.roles import Role

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, active=False).first()
    if endpoint is None:
        return
    recipients = list(
        User.objects.filter(groups__name=Role.MANAGER.value, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    context = {"endpoint": endpoint, "program": program_settings_get()}
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("emails/loyalty/webhook_disabled_subject.txt", context).strip()
        body = render_to_string("emails/loyalty/webhook_disabled_message.txt", context)
    send_mail(subject, body, None, recipients)


@shared_task(name="loyalty.import_job")
def import_job_task(
    job_id: int,
    check: bool,
    user_id: int | None = None,
    ip: str | None = None,
    language: str = "en",
) -> None:
    """The dry run (`check`) or the real run of an uploaded import
    (loyalty.imports), its bad lines in the uploader's language."""
    from loyalty.actors import Actor
    from loyalty.imports import import_job_execute

    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    with translation.override(language):
        import_job_execute(job_id=job_id, check=check, actor=Actor(user=user, ip=ip))
