from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Platform")

    def ready(self) -> None:
        # Register our system checks (the static manifest, for check --deploy)
        # and the OpenAPI description of our API-key authentication.
        from loyalty import system_checks  # noqa: F401
        from loyalty.api import schema  # noqa: F401
