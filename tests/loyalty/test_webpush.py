"""loyalty/webpush.py: VAPID keys and their checks, what a browser's
subscription must look like, and which endpoints our server refuses to post to."""

from __future__ import annotations

import base64
import json
import os
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty.errors import ValidationFailed
from loyalty.system_checks import vapid_check
from loyalty.webpush import (
    Delivery,
    b64url_decode,
    b64url_encode,
    endpoint_problem,
    push_deliver,
    push_message,
    subscription_clean,
    vapid_configured,
    vapid_keys_generate,
    vapid_problems,
)


def browser_keys() -> tuple[str, str]:
    """(p256dh, auth) as a browser makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64url_encode(point), b64url_encode(os.urandom(16))


def subscription(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc:123", **keys: str):
    p256dh, auth = browser_keys()
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": p256dh, "auth": auth, **keys},
    }


@pytest.fixture
def vapid(settings):
    public, private = vapid_keys_generate()
    settings.LOYALTY_VAPID_PUBLIC_KEY = public
    settings.LOYALTY_VAPID_PRIVATE_KEY = private
    settings.LOYALTY_VAPID_SUBJECT = "mailto:ops@setia.example"
    return public, private


def test_a_generated_pair_is_a_p256_point_and_its_scalar(vapid):
    public, private = vapid
    assert len(b64url_decode(public)) == 65 and b64url_decode(public)[0] == 4
    assert len(b64url_decode(private)) == 32
    assert "=" not in public + private
    assert vapid_problems() == []
    assert vapid_configured()


def test_push_is_off_without_keys_and_that_is_no_error(settings):
    settings.LOYALTY_VAPID_PUBLIC_KEY = settings.LOYALTY_VAPID_PRIVATE_KEY = ""
    settings.LOYALTY_VAPID_SUBJECT = ""
    assert not vapid_configured()
    assert vapid_check() == []


def test_a_half_or_mismatched_pair_or_a_bad_subject_fails_the_check_and_is_not_used(
    settings, vapid
):
    other_public, _other_private = vapid_keys_generate()
    settings.LOYALTY_VAPID_PUBLIC_KEY = other_public
    assert [error.id for error in vapid_check()] == ["loyalty.E002"]
    assert "is not the public key" in vapid_check()[0].msg
    assert not vapid_configured()

    settings.LOYALTY_VAPID_PUBLIC_KEY = vapid[0]
    settings.LOYALTY_VAPID_SUBJECT = "ops@setia.example"
    assert "mailto:" in vapid_check()[0].msg
    assert not vapid_configured()

    settings.LOYALTY_VAPID_SUBJECT = "mailto:ops@setia.example"
    settings.LOYALTY_VAPID_PRIVATE_KEY = ""
    assert "set together" in vapid_check()[0].msg

    settings.LOYALTY_VAPID_PRIVATE_KEY = "not a key!"
    assert "not a base64url P-256 private key" in vapid_check()[0].msg


def test_the_command_prints_the_three_environment_lines_of_a_working_pair(settings):
    out = StringIO()
    call_command("vapid_keys", "--subject", "mailto:ops@setia.example", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(lines) == {
        "LOYALTY_VAPID_PUBLIC_KEY",
        "LOYALTY_VAPID_PRIVATE_KEY",
        "LOYALTY_VAPID_SUBJECT",
    }
    for name, value in lines.items():
        setattr(settings, name, value)
    assert vapid_problems() == [] and vapid_configured()
    with pytest.raises(CommandError):
        call_command("vapid_keys", "--subject", "ops@setia.example", stdout=StringIO())


def test_a_browser_subscription_is_accepted_with_its_keys_normalised():
    data = subscription()
    padded = base64.urlsafe_b64encode(b64url_decode(data["keys"]["auth"])).decode()
    data["keys"]["auth"] = padded
    cleaned = subscription_clean(data)
    assert cleaned.endpoint == data["endpoint"]
    assert cleaned.auth == padded.rstrip("=")
    assert cleaned.p256dh == data["keys"]["p256dh"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (subscription("http://fcm.googleapis.com/fcm/send/x"), "endpoint"),
        (subscription("https://push.example.com/" + "x" * 1024), "endpoint"),
        (subscription("https://user:pw@push.example.com/x"), "endpoint"),
        (subscription("https://127.0.0.1/x"), "endpoint"),
        (subscription("https://10.1.2.3/x"), "endpoint"),
        (subscription("https://[::1]/x"), "endpoint"),
        (subscription("https://[::ffff:192.168.0.1]/x"), "endpoint"),
        (subscription("https://169.254.169.254/latest/meta-data"), "endpoint"),
        (subscription("https://localhost/x"), "endpoint"),
        (subscription("https://push.example.com:99999/x"), "endpoint"),
        (subscription("fcm.googleapis.com/x"), "endpoint"),
        ({"keys": subscription()["keys"]}, "endpoint"),
        (subscription(p256dh=b64url_encode(b"\x04" + b"\x01" * 64)), "keys.p256dh"),
        (subscription(p256dh=b64url_encode(os.urandom(33))), "keys.p256dh"),
        (subscription(p256dh="+/+/" * 22), "keys.p256dh"),
        (subscription(auth=b64url_encode(os.urandom(15))), "keys.auth"),
        (subscription(auth="x" * 5000), "keys.auth"),
        (subscription(auth=""), "keys.auth"),
        ({"endpoint": "https://fcm.googleapis.com/x", "keys": "nope"}, "keys.p256dh"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(data, field):
    with pytest.raises(ValidationFailed) as refused:
        subscription_clean(data)
    assert field in refused.value.fields


def test_a_subscription_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationFailed):
        subscription_clean(["https://fcm.googleapis.com/x"])


def test_private_endpoints_are_allowed_only_when_the_setting_says_so(settings):
    assert endpoint_problem("https://127.0.0.1:8443/push") is not None
    settings.LOYALTY_PUSH_ALLOW_PRIVATE = True
    assert endpoint_problem("https://127.0.0.1:8443/push") is None
    # https stays required, whatever the setting.
    assert endpoint_problem("http://127.0.0.1:8443/push") is not None


def test_a_name_that_resolves_to_a_private_address_is_refused_before_sending(settings, vapid):
    assert endpoint_problem("https://localtest.me/push") is None  # not resolved when stored
    assert endpoint_problem("https://localhost./push", resolve=True) is not None
    p256dh, auth = browser_keys()
    message = push_message(title="t", body="b", url="/portal/")
    sent = push_deliver(
        endpoint="https://localhost./push", p256dh=p256dh, auth=auth, message=message
    )
    assert sent is Delivery.FAILED


def test_the_message_is_json_with_a_site_path_and_cut_texts():
    message = json.loads(push_message(title="T" * 300, body="Mata ganjaran " * 100, url="/portal/"))
    assert message["url"] == "/portal/"
    assert len(message["title"]) == 100 and message["title"].endswith("…")
    assert len(message["body"]) <= 500
    for url in ["https://evil.example/", "//evil.example/", "portal/", "/" + "x" * 600]:
        with pytest.raises(ValueError):
            push_message(title="t", body="b", url=url)
