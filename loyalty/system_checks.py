"""System checks of ours, run by `manage.py check` (`--deploy` for production).

A missing static manifest does not stop the app from starting: every page then
answers 500 on its first `{% static %}`. `check --deploy` names it instead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.staticfiles, deploy=True)
def static_manifest_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error when the configured static storage keeps a manifest (hashed
    names, production) and the manifest file has not been collected."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.read_manifest() is not None:
        return []
    path = staticfiles_storage.manifest_storage.path(staticfiles_storage.manifest_name)
    return [
        Error(
            f"The static files manifest {path} is missing: every page would answer 500.",
            hint="Run `python manage.py collectstatic` (STATIC_ROOT is "
            f"{settings.STATIC_ROOT}, set by DJANGO_STATIC_ROOT).",
            id="loyalty.E001",
        )
    ]


@register()
def vapid_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Web push keys that cannot work (half a pair, a pair that does not fit,
    no subject) are named by `manage.py check` (and migrate, runserver), not
    found out by failing every message; meanwhile the portal offers no push."""
    from loyalty.webpush import vapid_problems

    return [
        Error(
            problem,
            hint="Run `python manage.py vapid_keys` for a new pair (docs/web-push.md), "
            "or unset all three LOYALTY_VAPID_* variables to offer no web push.",
            id="loyalty.E002",
        )
        for problem in vapid_problems()
    ]


@register()
def sms_backend_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error when LOYALTY_SMS_BACKEND names nothing that can send: every
    text message would fail, after its retries, hours later."""
    from django.utils.module_loading import import_string

    from loyalty.sms import BaseSmsBackend

    try:
        backend = import_string(settings.LOYALTY_SMS_BACKEND)
    except ImportError as exc:
        backend, problem = None, str(exc)
    else:
        problem = (
            ""
            if isinstance(backend, type) and issubclass(backend, BaseSmsBackend)
            else ("it is not a subclass of loyalty.sms.BaseSmsBackend")
        )
    if not problem:
        return []
    return [
        Error(
            f"LOYALTY_SMS_BACKEND={settings.LOYALTY_SMS_BACKEND!r} cannot send: {problem}.",
            hint="Use loyalty.sms.ConsoleSmsBackend or a subclass of loyalty.sms.BaseSmsBackend.",
            id="loyalty.E003",
        )
    ]


@register()
def currency_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error when LOYALTY_CURRENCY is no currency Babel knows: no amount
    could be written for people to read."""
    from babel.numbers import list_currencies

    if settings.LOYALTY_CURRENCY in list_currencies():
        return []
    return [
        Error(
            f"LOYALTY_CURRENCY={settings.LOYALTY_CURRENCY!r} is not an ISO 4217 currency code "
            "that Babel knows.",
            hint="Use the code in capitals, e.g. MYR, SGD, IDR or JPY.",
            id="loyalty.E004",
        )
    ]


@register()
def region_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error when LOYALTY_REGION is no region phonenumbers knows: no phone
    typed without its country code could be read."""
    import phonenumbers

    if settings.LOYALTY_REGION in phonenumbers.SUPPORTED_REGIONS:
        return []
    return [
        Error(
            f"LOYALTY_REGION={settings.LOYALTY_REGION!r} is not a region phonenumbers knows.",
            hint="Use an ISO 3166 two-letter code, e.g. MY, SG or ID.",
            id="loyalty.E005",
        )
    ]
