from django.urls import path

from analytics import dashboard_views

# The analytics dashboard, under /staff/.
staff_urlpatterns = [
    path("analytics/", dashboard_views.DashboardView.as_view(), name="analytics_dashboard"),
    path("analytics/today/", dashboard_views.StoreTodayView.as_view(), name="store_today"),
    path(
        "analytics/export/<slug:table>.csv",
        dashboard_views.DashboardExportView.as_view(),
        name="dashboard_export",
    ),
]
