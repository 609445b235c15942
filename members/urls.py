from django.urls import path

from members import api, portal_views, segment_views, segments_api, staff_views

api_urlpatterns = [
    path("members", api.MemberListApi.as_view(), name="member_list"),
    path("members/<str:public_id>", api.MemberDetailApi.as_view(), name="member_detail"),
    path("members/<str:public_id>/ledger", api.MemberLedgerApi.as_view(), name="member_ledger"),
    path(
        "members/<str:public_id>/adjustments",
        api.MemberAdjustmentApi.as_view(),
        name="member_adjustments",
    ),
    path("tiers", api.TierListApi.as_view(), name="tier_list"),
    path("segments", segments_api.SegmentListApi.as_view(), name="segment_list"),
    path(
        "segments/<int:segment_id>",
        segments_api.SegmentDetailApi.as_view(),
        name="segment_detail",
    ),
    path(
        "segments/<int:segment_id>/members",
        segments_api.SegmentMembersApi.as_view(),
        name="segment_members",
    ),
    path("tiers/<slug:code>", api.TierDetailApi.as_view(), name="tier_detail"),
]

# Back-office pages of members (counter, tiers), under /staff/.
staff_urlpatterns = [
    path("members/", staff_views.MemberSearchView.as_view(), name="member_search"),
    path("members/new/", staff_views.MemberEnrolView.as_view(), name="member_enrol"),
    path("members/export/", staff_views.MemberExportView.as_view(), name="member_export"),
    path("members/<str:public_id>/", staff_views.MemberDetailView.as_view(), name="member_detail"),
    path("members/<str:public_id>/edit/", staff_views.MemberEditView.as_view(), name="member_edit"),
    path(
        "members/<str:public_id>/data.json",
        staff_views.MemberDataExportView.as_view(),
        name="member_data_export",
    ),
    path(
        "members/<str:public_id>/erase/", staff_views.MemberEraseView.as_view(), name="member_erase"
    ),
    path(
        "members/<str:public_id>/adjust/",
        staff_views.MemberAdjustView.as_view(),
        name="member_adjust",
    ),
    path(
        "members/<str:public_id>/tier/",
        staff_views.MemberTierSetView.as_view(),
        name="member_tier_set",
    ),
    path("segments/", segment_views.SegmentListView.as_view(), name="segment_list"),
    path("segments/new/", segment_views.SegmentBuilderView.as_view(), name="segment_create"),
    path("segments/preview/", segment_views.SegmentPreviewView.as_view(), name="segment_preview"),
    path(
        "segments/<int:segment_id>/",
        segment_views.SegmentBuilderView.as_view(),
        name="segment_update",
    ),
    path(
        "segments/<int:segment_id>/export/",
        segment_views.SegmentExportView.as_view(),
        name="segment_export",
    ),
    path(
        "segments/<int:segment_id>/delete/",
        segment_views.SegmentDeleteView.as_view(),
        name="segment_delete",
    ),
    path("tiers/", staff_views.TierListView.as_view(), name="tier_list"),
    path("tiers/new/", staff_views.TierCreateView.as_view(), name="tier_create"),
    path("tiers/<slug:code>/", staff_views.TierUpdateView.as_view(), name="tier_update"),
    path("tiers/<slug:code>/delete/", staff_views.TierDeleteView.as_view(), name="tier_delete"),
]

# The member's own pages, under /portal/. No URL names a member: each view
# serves the signed-in member only.
portal_urlpatterns = [
    path("", portal_views.PortalHomeView.as_view(), name="home"),
    path("history/", portal_views.PortalHistoryView.as_view(), name="history"),
    path("tiers/", portal_views.PortalTiersView.as_view(), name="tiers"),
    path("profile/", portal_views.PortalProfileView.as_view(), name="profile"),
    path("privacy/", portal_views.PortalPrivacyView.as_view(), name="privacy"),
    path("privacy/data.json", portal_views.PortalDataDownloadView.as_view(), name="privacy_data"),
    path(
        "push/subscription/",
        portal_views.PushSubscriptionView.as_view(),
        name="push_subscription",
    ),
    path("inbox/", portal_views.PortalInboxView.as_view(), name="inbox"),
    path("inbox/read-all/", portal_views.PortalInboxReadAllView.as_view(), name="inbox_read_all"),
    path("inbox/<int:pk>/", portal_views.PortalNotificationView.as_view(), name="notification"),
    path(
        "messages/",
        portal_views.PortalNotificationPreferencesView.as_view(),
        name="notification_preferences",
    ),
]
