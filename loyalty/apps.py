from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Platform")

    def ready(self) -> None:
        # Register the OpenAPI description of our API-key authentication.
        from loyalty.api import schema  # noqa: F401
