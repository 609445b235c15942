from django.urls import path

from purchases import api, backtest_api, backtest_views, staff_views

api_urlpatterns = [
    path("purchases", api.PurchaseListApi.as_view(), name="purchase_list"),
    path("purchases/preview", api.PurchasePreviewApi.as_view(), name="purchase_preview"),
    path("purchases/<int:pk>", api.PurchaseDetailApi.as_view(), name="purchase_detail"),
    path("purchases/<int:pk>/returns", api.PurchaseReturnApi.as_view(), name="purchase_returns"),
    # A campaign's back-test reads purchases, so it is served from here (layer 5).
    path(
        "campaigns/<int:campaign_id>/simulate",
        backtest_api.CampaignSimulateApi.as_view(),
        name="campaign_simulate",
    ),
]

# Back-office pages of sales, under /staff/.
staff_urlpatterns = [
    path("purchases/", staff_views.PurchaseListView.as_view(), name="purchase_list"),
    path("purchases/export/", staff_views.PurchaseExportView.as_view(), name="purchase_export"),
    path("ledger/", staff_views.LedgerListView.as_view(), name="ledger_list"),
    path("ledger/export/", staff_views.LedgerExportView.as_view(), name="ledger_export"),
    path(
        "members/<str:public_id>/purchases/new/",
        staff_views.PurchaseCreateView.as_view(),
        name="purchase_create",
    ),
    path("purchases/<int:pk>/", staff_views.PurchaseDetailView.as_view(), name="purchase_detail"),
    path(
        "purchases/<int:pk>/return/",
        staff_views.PurchaseReturnView.as_view(),
        name="purchase_return",
    ),
    path(
        "campaigns/<int:campaign_id>/backtests/",
        backtest_views.BacktestCreateView.as_view(),
        name="campaign_backtest",
    ),
    path(
        "campaigns/<int:campaign_id>/backtests/<int:run_id>/",
        backtest_views.BacktestDetailView.as_view(),
        name="campaign_backtest_detail",
    ),
    path(
        "campaigns/<int:campaign_id>/backtests/<int:run_id>/status.json",
        backtest_views.BacktestStatusView.as_view(),
        name="campaign_backtest_status",
    ),
]
