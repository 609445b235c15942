from django.urls import path

from rewards import api, counter_views, portal_views, staff_views

api_urlpatterns = [
    path("rewards", api.RewardListApi.as_view(), name="reward_list"),
    path("rewards/<int:reward_id>", api.RewardDetailApi.as_view(), name="reward_detail"),
    path(
        "members/<str:public_id>/redemptions",
        api.MemberRedemptionApi.as_view(),
        name="member_redemptions",
    ),
    path(
        "redemptions/<int:redemption_id>/cancel",
        api.RedemptionCancelApi.as_view(),
        name="redemption_cancel",
    ),
    path("vouchers/<str:code>", api.VoucherDetailApi.as_view(), name="voucher_detail"),
    path("vouchers/<str:code>/use", api.VoucherUseApi.as_view(), name="voucher_use"),
    path("gift-cards", api.GiftCardListApi.as_view(), name="gift_card_list"),
    path("gift-cards/<str:code>", api.GiftCardDetailApi.as_view(), name="gift_card_detail"),
    path(
        "gift-cards/<str:code>/charges", api.GiftCardChargeApi.as_view(), name="gift_card_charges"
    ),
]

# Back-office pages of rewards, under /staff/ (catalogue for marketers; the
# counter's voucher and gift-card desk for store staff).
staff_urlpatterns: list = [
    path("rewards/", staff_views.RewardListView.as_view(), name="reward_list"),
    path("rewards/new/", staff_views.RewardCreateView.as_view(), name="reward_create"),
    path(
        "rewards/categories/",
        staff_views.RewardCategoryListView.as_view(),
        name="reward_category_list",
    ),
    path("rewards/donations/", staff_views.DonationTotalsView.as_view(), name="reward_donations"),
    path(
        "rewards/redemptions/",
        staff_views.RedemptionListView.as_view(),
        name="redemption_list",
    ),
    path(
        "rewards/redemptions/export/",
        staff_views.RedemptionExportView.as_view(),
        name="redemption_export",
    ),
    path("rewards/<int:reward_id>/", staff_views.RewardUpdateView.as_view(), name="reward_update"),
    path(
        "rewards/<int:reward_id>/preview/",
        staff_views.RewardPreviewView.as_view(),
        name="reward_preview",
    ),
    path(
        "rewards/<int:reward_id>/archive/",
        staff_views.RewardArchiveView.as_view(),
        name="reward_archive",
    ),
    path(
        "rewards/<int:reward_id>/move/",
        staff_views.RewardMoveView.as_view(),
        name="reward_move",
    ),
    path(
        "gift-card-designs/",
        staff_views.GiftCardDesignListView.as_view(),
        name="gift_card_design_list",
    ),
    path(
        "gift-card-designs/new/",
        staff_views.GiftCardDesignCreateView.as_view(),
        name="gift_card_design_create",
    ),
    path(
        "gift-card-designs/<int:design_id>/",
        staff_views.GiftCardDesignUpdateView.as_view(),
        name="gift_card_design_update",
    ),
    # The counter's voucher and gift-card desk (rewards/counter_views.py).
    path("counter/vouchers/", counter_views.CounterVoucherView.as_view(), name="counter_voucher"),
    path(
        "counter/vouchers/<str:code>/use/",
        counter_views.CounterVoucherUseView.as_view(),
        name="counter_voucher_use",
    ),
    path(
        "counter/gift-cards/", counter_views.CounterGiftCardView.as_view(), name="counter_gift_card"
    ),
    path(
        "counter/gift-cards/new/",
        counter_views.CounterGiftCardSellView.as_view(),
        name="counter_gift_card_sell",
    ),
]

# Member pages of rewards, under /portal/.
portal_urlpatterns: list = [
    path("rewards/", portal_views.RewardCatalogueView.as_view(), name="rewards"),
    path("rewards/<int:reward_id>/", portal_views.RewardDetailView.as_view(), name="reward"),
    path(
        "rewards/<int:reward_id>/redeem/",
        portal_views.RewardRedeemView.as_view(),
        name="reward_redeem",
    ),
    path("rewards/vouchers/", portal_views.VoucherListView.as_view(), name="vouchers"),
    path("rewards/vouchers/<str:code>/", portal_views.VoucherDetailView.as_view(), name="voucher"),
    path("rewards/gift-cards/", portal_views.GiftCardListView.as_view(), name="gift_cards"),
]
