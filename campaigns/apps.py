from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # The live sale campaigns are read by every sale: cached per process.
        from campaigns.models import Campaign, Challenge
        from loyalty.config import config_models_watch

        config_models_watch(Campaign, Challenge)

        # A challenge's completion tells the member (campaigns.challenges).
        from campaigns.challenges import CHALLENGE_COMPLETED
        from loyalty.notifications import kind_register

        kind_register(CHALLENGE_COMPLETED)

        # What rides on every enrolment (members.enrolment: members sits below
        # campaigns and cannot call it): the referral a friend's code records,
        # then the welcome bonus.
        from campaigns.moments import signup_award
        from campaigns.portal_views import sale_offers_panel, ways_to_earn_panel
        from campaigns.referrals import referral_on_enrol
        from members.enrolment import enrolment_hook_register
        from members.portal_panels import portal_home_panel_register

        enrolment_hook_register(referral_on_enrol)
        enrolment_hook_register(signup_award)
        portal_home_panel_register(sale_offers_panel)
        portal_home_panel_register(ways_to_earn_panel)

        # The challenges the member's last purchase moved (campaigns.challenge_portal_views).
        from campaigns.challenge_portal_views import challenges_panel

        portal_home_panel_register(challenges_panel)

        # A member's challenges, badges and referrals in their data document,
        # and what their erasure removes (members.privacy).
        from campaigns.privacy import member_campaigns_export, member_campaigns_forget
        from members.privacy import member_export_section_register
        from members.services import member_deletion_hook_register

        member_export_section_register("campaigns", member_campaigns_export)
        member_deletion_hook_register(member_campaigns_forget)
