from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # The welcome bonus rides on every enrolment (members.hooks: members
        # sits below campaigns and cannot call it).
        from campaigns.moments import signup_award
        from members.hooks import member_enrolled_hook_register

        member_enrolled_hook_register(signup_award)
