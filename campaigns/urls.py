from django.urls import path

from campaigns import api, portal_views, referrals_api, staff_views

api_urlpatterns = [
    path("events", api.EventListApi.as_view(), name="event_list"),
    path(
        "members/<str:public_id>/referrals",
        referrals_api.MemberReferralListApi.as_view(),
        name="member_referrals",
    ),
    path("campaigns", api.CampaignListApi.as_view(), name="campaign_list"),
    path("campaigns/<int:campaign_id>", api.CampaignDetailApi.as_view(), name="campaign_detail"),
]

# The marketers' pages of campaigns, under /staff/.
staff_urlpatterns: list = [
    path("campaigns/", staff_views.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/new/", staff_views.CampaignCreateView.as_view(), name="campaign_create"),
    path(
        "campaigns/<int:campaign_id>/",
        staff_views.CampaignUpdateView.as_view(),
        name="campaign_update",
    ),
    path(
        "campaigns/<int:campaign_id>/status/",
        staff_views.CampaignStatusView.as_view(),
        name="campaign_status",
    ),
    path(
        "campaigns/<int:campaign_id>/duplicate/",
        staff_views.CampaignDuplicateView.as_view(),
        name="campaign_duplicate",
    ),
]

# The member's own pages, under /portal/.
portal_urlpatterns = [
    path("referrals/", portal_views.PortalReferralsView.as_view(), name="referrals"),
]
