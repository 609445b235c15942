from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    # The app's config, among the two classes here.
    default = True
    name = "loyalty"
    verbose_name = _("Platform")

    def ready(self) -> None:
        # Register our system checks (the static manifest, for check --deploy)
        # and the OpenAPI description of our API-key authentication.
        from loyalty import system_checks  # noqa: F401
        from loyalty.api import schema  # noqa: F401
        from loyalty.config import config_models_watch
        from loyalty.models import ApiKey, ProgramSettings, Store, WebhookEndpoint

        config_models_watch(ProgramSettings, Store, ApiKey, WebhookEndpoint)
        _notification_channels_register()


def _notification_channels_register() -> None:
    """The channels of loyalty.notifications this app sends by (web push
    registers its own)."""
    from loyalty.notification_email import email_send
    from loyalty.notifications import channel_register
    from loyalty.sms import sms_send

    channel_register(
        "email", email_send, label=_("Email"), reaches=lambda member: bool(member.email)
    )
    channel_register("sms", sms_send, label=_("SMS"), reaches=lambda member: bool(member.phone))


class SetiaAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site: allauth's login, and the second factor
    this session passed (loyalty.access). Named in INSTALLED_APPS instead of
    django.contrib.admin."""

    default = False
    default_site = "loyalty.access.SetiaAdminSite"
