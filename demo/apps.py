from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Only for its `load_demo_data` command: the demo has no models."""

    name = "demo"
    verbose_name = _("Demo data")
