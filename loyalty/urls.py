"""Root URLs: public pages, accounts, the portal, the back-office, the API."""

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from analytics import dashboard_urls, prediction_urls
from analytics import urls as analytics_urls
from campaigns import portal_views as campaign_portal_views
from campaigns import urls as campaign_urls
from loyalty import import_views, staff_views, views, webhook_views
from loyalty.api import errors as api_errors
from loyalty.api import views as api_views
from loyalty.api import webhooks as webhook_api
from members import urls as member_urls
from members import views as member_views
from purchases import urls as purchase_urls
from rewards import urls as reward_urls

staff_urlpatterns = [
    path("", staff_views.StaffHomeView.as_view(), name="home"),
    path("program/", staff_views.ProgramSettingsView.as_view(), name="program"),
    path("stores/", staff_views.StoreListView.as_view(), name="store_list"),
    path("stores/new/", staff_views.StoreCreateView.as_view(), name="store_create"),
    path("stores/<slug:code>/", staff_views.StoreUpdateView.as_view(), name="store_update"),
    path("api-keys/", staff_views.ApiKeyListView.as_view(), name="api_key_list"),
    path("api-keys/new/", staff_views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path(
        "api-keys/<int:pk>/revoke/", staff_views.ApiKeyRevokeView.as_view(), name="api_key_revoke"
    ),
    path("team/", staff_views.StaffUserListView.as_view(), name="staff_user_list"),
    path("team/new/", staff_views.StaffUserCreateView.as_view(), name="staff_user_create"),
    path("team/<int:pk>/", staff_views.StaffUserUpdateView.as_view(), name="staff_user_update"),
    path("audit/", staff_views.AuditEventListView.as_view(), name="audit_log"),
    path("webhooks/", webhook_views.WebhookListView.as_view(), name="webhook_list"),
    path("webhooks/new/", webhook_views.WebhookCreateView.as_view(), name="webhook_create"),
    path("webhooks/<int:pk>/", webhook_views.WebhookUpdateView.as_view(), name="webhook_update"),
    path(
        "webhooks/<int:pk>/delete/",
        webhook_views.WebhookDeleteView.as_view(),
        name="webhook_delete",
    ),
    path(
        "webhooks/<int:pk>/enable/",
        webhook_views.WebhookEnableView.as_view(),
        name="webhook_enable",
    ),
    path(
        "webhooks/<int:pk>/deliveries/",
        webhook_views.WebhookDeliveriesView.as_view(),
        name="webhook_deliveries",
    ),
    path(
        "webhooks/deliveries/<int:pk>/resend/",
        webhook_views.WebhookResendView.as_view(),
        name="webhook_resend",
    ),
    path("imports/", import_views.ImportListView.as_view(), name="import_list"),
    path("imports/<int:import_id>/", import_views.ImportDetailView.as_view(), name="import_detail"),
    path(
        "imports/<int:import_id>/start/",
        import_views.ImportStartView.as_view(),
        name="import_start",
    ),
    path(
        "imports/<int:import_id>/status/",
        import_views.ImportStatusView.as_view(),
        name="import_status",
    ),
    *member_urls.staff_urlpatterns,
    *purchase_urls.staff_urlpatterns,
    *reward_urls.staff_urlpatterns,
    *campaign_urls.staff_urlpatterns,
    *analytics_urls.staff_urlpatterns,
    *prediction_urls.staff_urlpatterns,
    *dashboard_urls.staff_urlpatterns,
]

api_v1_urlpatterns = [
    path("program", api_views.ProgramApi.as_view(), name="program"),
    path("stores", api_views.StoreListApi.as_view(), name="store_list"),
    path("stores/<slug:code>", api_views.StoreDetailApi.as_view(), name="store_detail"),
    path("webhooks", webhook_api.WebhookListApi.as_view(), name="webhook_list"),
    path("webhooks/<int:pk>", webhook_api.WebhookDetailApi.as_view(), name="webhook_detail"),
    path(
        "webhooks/<int:pk>/deliveries",
        webhook_api.WebhookDeliveryListApi.as_view(),
        name="webhook_deliveries",
    ),
    *member_urls.api_urlpatterns,
    *purchase_urls.api_urlpatterns,
    *reward_urls.api_urlpatterns,
    *campaign_urls.api_urlpatterns,
    *analytics_urls.api_urlpatterns,
]

# The API docs pages under our Content-Security-Policy (settings.py). Swagger UI's
# start-up script is served by the same view as a file (?script), not inline;
# both UIs come from our static files (the sidecar) but write <style> elements,
# and Redoc runs its search in a worker made from a blob: URL. Only these two
# pages get that, never the rest of the site.
api_docs_view = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)
# Redoc's own page draws its logo from its CDN: that one image, on this page only.
api_redoc_view = csp_update(
    {
        "style-src": ["'unsafe-inline'"],
        "worker-src": ["blob:"],
        "img-src": ["https://cdn.redoc.ly"],
    }
)(SpectacularRedocView.as_view(url_name="api_schema"))

urlpatterns = [
    path("", views.landing, name="landing"),
    path("home/", views.home, name="home"),
    path("manifest.webmanifest", views.web_manifest, name="web_manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("i18n/setlang/", member_views.language_switch, name="set_language"),
    path("accounts/", include("allauth.urls")),
    path(
        "portal/",
        include(
            (
                [
                    *member_urls.portal_urlpatterns,
                    *reward_urls.portal_urlpatterns,
                    *campaign_urls.portal_urlpatterns,
                    *analytics_urls.portal_urlpatterns,
                ],
                "portal",
            )
        ),
    ),
    # The referral share link (public): keeps the friend's code through the sign-up.
    path("join", campaign_portal_views.JoinView.as_view(), name="join"),
    # The one-click unsubscribe of marketing emails (public, a signed token).
    path(
        "unsubscribe/<str:token>/",
        member_views.UnsubscribeView.as_view(),
        name="unsubscribe",
    ),
    path("staff/", include((staff_urlpatterns, "staff"))),
    path("api/v1/", include((api_v1_urlpatterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", api_docs_view, name="api_docs"),
    path("api/redoc/", api_redoc_view, name="api_redoc"),
    # Every other /api/ path: the JSON 404, also with DEBUG (see the view).
    re_path(r"^api/", api_errors.api_unknown_endpoint),
    path("admin/", admin.site.urls),
]

# Under /api/ these answer with the error envelope of API.md, elsewhere with pages.
handler400 = "loyalty.views.bad_request"
handler403 = "loyalty.views.permission_denied"
handler404 = "loyalty.views.page_not_found"
handler500 = "loyalty.views.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
