from django.urls import path

from rewards import api

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
staff_urlpatterns: list = []

# Member pages of rewards, under /portal/.
portal_urlpatterns: list = []
