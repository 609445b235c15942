"""API keys: created once with their secret, hashed at rest, revocable."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from loyalty.models import ApiKey, AuditEvent
from loyalty.services import api_key_hash
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_key_alone_on_the_last_line():
    StoreFactory(code="klcc")
    out = StringIO()
    call_command("create_api_key", "KLCC till 1", "--scopes", "pos", "--store", "klcc", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]

    api_key = ApiKey.objects.get()
    assert key.startswith(f"setia_{api_key.prefix}_")
    assert api_key.key_hash == api_key_hash(key) and key not in api_key.key_hash
    assert api_key.scopes == ["pos"] and api_key.store.code == "klcc"
    assert AuditEvent.objects.filter(action="api_key.create").exists()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/program").status_code == 403  # pos cannot read settings
    api_key.scopes = ["admin"]
    api_key.save(update_fields=["scopes"])  # a save: the configuration cache forgets the key
    assert client.get("/api/v1/program").status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--scopes", "root"], "pos, admin"), (["--store", "nowhere"], "No store")],
)
def test_create_api_key_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "till", *args, stdout=StringIO())
    assert not ApiKey.objects.exists()
