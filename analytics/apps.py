from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        # The survey invitation is a kind of loyalty.notifications, and the
        # portal's home shows a member's open invitation (members.portal_panels).
        from analytics.portal_views import feedback_panel
        from analytics.predictions import member_prediction_forget
        from analytics.surveys import SURVEY_INVITATION
        from loyalty.notifications import kind_register
        from members.portal_panels import portal_home_panel_register
        from members.services import member_deletion_hook_register

        kind_register(SURVEY_INVITATION)
        portal_home_panel_register(feedback_panel)
        # A deleted member keeps no prediction.
        member_deletion_hook_register(member_prediction_forget)
        # Survey answers and the prediction in a member's data document; an
        # erased member's comments go (members.privacy).
        from analytics.privacy import member_feedback_export, member_feedback_forget
        from members.privacy import member_export_section_register

        member_export_section_register("feedback", member_feedback_export)
        member_deletion_hook_register(member_feedback_forget)
