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
        # The welcome message comes with every enrolment (members.notifications).
        from members.enrolment import enrolment_hook_register
        from members.notifications import welcome_notify

        enrolment_hook_register(welcome_notify)
        # Web push is a notification channel for members with a subscribed device.
        from loyalty.notifications import channel_register
        from members.push import push_available, push_notification_send

        channel_register(
            "push", push_notification_send, label=_("Push on my devices"), reaches=push_available
        )

        # The upload page and the command (loyalty.imports) read members files here.
        from loyalty.imports import importer_register
        from members.imports import members_import

        importer_register("members", members_import)
