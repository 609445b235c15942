from django.urls import path

from purchases import api, staff_views

api_urlpatterns = [
    path("purchases", api.PurchaseListApi.as_view(), name="purchase_list"),
    path("purchases/preview", api.PurchasePreviewApi.as_view(), name="purchase_preview"),
    path("purchases/<int:pk>", api.PurchaseDetailApi.as_view(), name="purchase_detail"),
    path("purchases/<int:pk>/returns", api.PurchaseReturnApi.as_view(), name="purchase_returns"),
]

# Back-office pages of sales, under /staff/.
staff_urlpatterns = [
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
]
