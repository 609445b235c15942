from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        # The tier table is read by every sale and status: cached per process.
        from loyalty.config import config_models_watch
        from members.models import Tier

        config_models_watch(Tier)

        # The upload page and the command (loyalty.imports) read members files here.
        from loyalty.imports import importer_register
        from members.imports import members_import

        importer_register("members", members_import)
