"""Managers add staff, give them roles and close their accounts."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from loyalty.models import AuditEvent, User
from loyalty.roles import user_roles
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_new_staff_member_is_invited_and_can_set_a_password_and_sign_in(
    manager_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("staff:staff_user_create"),
            {
                "first_name": "Mei",
                "last_name": "Tan",
                "email": "Mei@Example.com",
                "role": "Store staff",
            },
        )
    assert response.status_code == 302
    mei = User.objects.get(email="mei@example.com")
    assert [role.value for role in user_roles(mei)] == ["Store staff"]
    assert not mei.has_usable_password()
    assert mail.outbox[-1].to == ["mei@example.com"]

    link = re.search(
        r"https?://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body
    )
    manager_client.logout()
    response = manager_client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    response = manager_client.post(
        form_url, {"password1": "teh-tarik-kurang-manis", "password2": "teh-tarik-kurang-manis"}
    )
    assert response.status_code == 302
    response = manager_client.post(
        reverse("account_login"), {"login": "mei@example.com", "password": "teh-tarik-kurang-manis"}
    )
    assert response["Location"] == reverse("staff:home")


def test_manager_changes_a_role_and_closes_an_account(manager_client, store_staff):
    url = reverse("staff:staff_user_update", args=[store_staff.pk])
    form = {"first_name": "Ravi", "last_name": "K", "role": "Marketer", "is_active": "on"}
    assert manager_client.post(url, form).status_code == 302
    store_staff.refresh_from_db()
    assert [role.value for role in user_roles(store_staff)] == ["Marketer"]

    assert manager_client.post(url, {**form, "is_active": ""}).status_code == 302
    store_staff.refresh_from_db()
    assert not store_staff.is_active
    events = AuditEvent.objects.filter(action="staff_user.update").order_by("id")
    assert events[0].before["roles"] == ["Store staff"] and events[0].after["roles"] == ["Marketer"]


def test_a_manager_cannot_demote_or_close_their_own_account(manager_client, manager):
    url = reverse("staff:staff_user_update", args=[manager.pk])
    response = manager_client.post(url, {"first_name": "M", "role": "Marketer", "is_active": "on"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert [role.value for role in user_roles(manager)] == ["Manager"]


def test_members_are_not_listed_or_editable_as_staff(manager_client, member, store_staff):
    listing = manager_client.get(reverse("staff:staff_user_list"))
    assert store_staff.email.encode() in listing.content
    assert member.user.email.encode() not in listing.content
    url = reverse("staff:staff_user_update", args=[member.user.pk])
    assert manager_client.get(url).status_code == 404


def test_an_existing_email_is_refused(manager_client, member):
    response = manager_client.post(
        reverse("staff:staff_user_create"),
        {"first_name": "X", "email": member.user.email, "role": "Marketer"},
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors


def test_a_store_staff_account_is_given_its_store_and_the_change_is_audited(
    manager_client, store_staff
):
    """The store a store-staff account works at: set on the account page,
    shown in the team list, kept in the audit row's before and after."""
    bangsar = StoreFactory(code="bangsar", name="Bangsar")
    url = reverse("staff:staff_user_update", args=[store_staff.pk])
    form = {"first_name": "Ravi", "role": "Store staff", "is_active": "on", "store": bangsar.pk}
    assert manager_client.post(url, form).status_code == 302
    store_staff.refresh_from_db()
    assert store_staff.store == bangsar
    assert b"Bangsar" in manager_client.get(reverse("staff:staff_user_list")).content
    event = AuditEvent.objects.get(action="staff_user.update")
    assert (event.before["store"], event.after["store"]) == (None, bangsar.pk)
