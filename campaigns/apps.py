from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # The live sale campaigns are read by every sale: cached per process.
        from campaigns.models import Campaign
        from loyalty.config import config_models_watch

        config_models_watch(Campaign)
