from django.urls import path

from analytics import prediction_views

# Back-office pages of the predictions, under /staff/.
staff_urlpatterns = [
    path("at-risk/", prediction_views.AtRiskView.as_view(), name="at_risk"),
]
