"""Setia's project package and platform layer (layer 1 in docs/architecture.md)."""

from loyalty.celery import app as celery_app

__all__ = ["celery_app"]
