from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # Enrolling with a friend's code records the referral (members.enrolment).
        from campaigns.referrals import referral_on_enrol
        from members.enrolment import enrolment_hook_register

        enrolment_hook_register(referral_on_enrol)
