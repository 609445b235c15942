from django.urls import path

from campaigns import (
    api,
    broadcast_views,
    challenge_api,
    challenge_portal_views,
    challenge_staff_views,
    portal_views,
    referrals_api,
    staff_views,
)

api_urlpatterns = [
    path("events", api.EventListApi.as_view(), name="event_list"),
    path(
        "members/<str:public_id>/referrals",
        referrals_api.MemberReferralListApi.as_view(),
        name="member_referrals",
    ),
    path("campaigns", api.CampaignListApi.as_view(), name="campaign_list"),
    path("campaigns/<int:campaign_id>", api.CampaignDetailApi.as_view(), name="campaign_detail"),
    path("challenges", challenge_api.ChallengeListApi.as_view(), name="challenge_list"),
    path(
        "challenges/<int:challenge_id>",
        challenge_api.ChallengeDetailApi.as_view(),
        name="challenge_detail",
    ),
    path("badges", challenge_api.BadgeListApi.as_view(), name="badge_list"),
    path(
        "members/<str:public_id>/challenges",
        challenge_api.MemberChallengeListApi.as_view(),
        name="member_challenges",
    ),
    path(
        "members/<str:public_id>/challenges/<int:challenge_id>/join",
        challenge_api.MemberChallengeJoinApi.as_view(),
        name="member_challenge_join",
    ),
    path(
        "members/<str:public_id>/badges",
        challenge_api.MemberBadgeListApi.as_view(),
        name="member_badges",
    ),
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
    path("broadcasts/", broadcast_views.BroadcastListView.as_view(), name="broadcast_list"),
    path("broadcasts/new/", broadcast_views.BroadcastCreateView.as_view(), name="broadcast_create"),
    path(
        "broadcasts/<int:broadcast_id>/",
        broadcast_views.BroadcastDetailView.as_view(),
        name="broadcast_detail",
    ),
    path(
        "broadcasts/<int:broadcast_id>/edit/",
        broadcast_views.BroadcastUpdateView.as_view(),
        name="broadcast_update",
    ),
    path(
        "broadcasts/<int:broadcast_id>/send/",
        broadcast_views.BroadcastSendView.as_view(),
        name="broadcast_send",
    ),
    path(
        "broadcasts/<int:broadcast_id>/schedule/",
        broadcast_views.BroadcastScheduleView.as_view(),
        name="broadcast_schedule",
    ),
    path(
        "broadcasts/<int:broadcast_id>/cancel/",
        broadcast_views.BroadcastCancelView.as_view(),
        name="broadcast_cancel",
    ),
    path(
        "broadcasts/<int:broadcast_id>/status/",
        broadcast_views.BroadcastStatusView.as_view(),
        name="broadcast_status",
    ),
    path("challenges/", challenge_staff_views.ChallengeListView.as_view(), name="challenge_list"),
    path(
        "challenges/new/",
        challenge_staff_views.ChallengeCreateView.as_view(),
        name="challenge_create",
    ),
    path(
        "challenges/<int:challenge_id>/",
        challenge_staff_views.ChallengeUpdateView.as_view(),
        name="challenge_update",
    ),
    path(
        "challenges/<int:challenge_id>/results/",
        challenge_staff_views.ChallengeResultsView.as_view(),
        name="challenge_results",
    ),
    path("badges/", challenge_staff_views.BadgeListView.as_view(), name="badge_list"),
    path("badges/new/", challenge_staff_views.BadgeCreateView.as_view(), name="badge_create"),
    path(
        "badges/<int:badge_id>/",
        challenge_staff_views.BadgeUpdateView.as_view(),
        name="badge_update",
    ),
]

# The member's own pages, under /portal/.
portal_urlpatterns = [
    path("referrals/", portal_views.PortalReferralsView.as_view(), name="referrals"),
    path("challenges/", challenge_portal_views.PortalChallengesView.as_view(), name="challenges"),
    path(
        "challenges/<int:challenge_id>/join/",
        challenge_portal_views.PortalChallengeJoinView.as_view(),
        name="challenge_join",
    ),
    path(
        "challenges/<int:challenge_id>/leaderboard/",
        challenge_portal_views.PortalLeaderboardView.as_view(),
        name="challenge_leaderboard",
    ),
    path(
        "leaderboards/nickname/",
        challenge_portal_views.PortalNicknameView.as_view(),
        name="leaderboard_nickname",
    ),
    path("badges/", challenge_portal_views.PortalBadgesView.as_view(), name="badges"),
]
