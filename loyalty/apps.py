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


class SetiaAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site: allauth's login, and the second factor
    this session passed (loyalty.access). Named in INSTALLED_APPS instead of
    django.contrib.admin."""

    default = False
    default_site = "loyalty.access.SetiaAdminSite"
