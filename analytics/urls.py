from django.urls import path

from analytics import feedback_api, portal_views, summary_api, survey_views

api_urlpatterns = [
    path("feedback", feedback_api.FeedbackApi.as_view(), name="feedback"),
    path(
        "analytics/summary",
        summary_api.AnalyticsSummaryApi.as_view(),
        name="analytics_summary",
    ),
]

# Back-office pages of surveys and service recovery, under /staff/.
staff_urlpatterns = [
    path("surveys/", survey_views.SurveyOverviewView.as_view(), name="survey_overview"),
    path("surveys/export/", survey_views.FeedbackExportView.as_view(), name="feedback_export"),
    path(
        "surveys/<slug:kind>/settings/",
        survey_views.SurveySettingsView.as_view(),
        name="survey_settings",
    ),
    path("follow-ups/", survey_views.FollowUpListView.as_view(), name="follow_up_list"),
    path(
        "follow-ups/<int:pk>/", survey_views.FollowUpDetailView.as_view(), name="follow_up_detail"
    ),
]

# The member's own pages, under /portal/.
portal_urlpatterns = [
    path("feedback/", portal_views.FeedbackView.as_view(), name="feedback"),
    path("feedback/<int:invitation_id>/", portal_views.SurveyView.as_view(), name="survey"),
]
