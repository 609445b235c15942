"""Celery tasks of the platform."""

from __future__ import annotations

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from celery import shared_task
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from loyalty.jobs import job_run
from loyalty.models import User
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
