"""allauth's hooks: signing up makes a member (with the friend's referral code
the visitor came with, if any); signing in lands on the right home."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language

from loyalty.models import User
from loyalty.roles import is_staff_user
from members.push import PUSH_SESSION_KEY, push_subscription_remove_by_id
from members.selectors import member_of_user
from members.services import member_enrol_from_signup
from members.views import language_cookie_set

# Where the share link's landing page (campaigns.portal_views.JoinView) keeps
# the friend's code until the sign-up makes the member.
REFERRAL_SESSION_KEY = "referral_code"


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: User, form: Form, commit: bool = True) -> User:
        """Only members sign up (staff accounts are made by managers): every
        signup makes a member, in the language the visitor was browsing in."""
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            member_enrol_from_signup(
                user=user,
                language=get_language() or "en",
                # A friend's share link (/join?ref=CODE) left its code here.
                referral_code=request.session.pop(REFERRAL_SESSION_KEY, None),
                address=request.META.get("REMOTE_ADDR"),
            )
        return user

    def post_login(self, request: HttpRequest, user: User, **kwargs: Any) -> HttpResponse:
        """A member's saved language follows them to every device they sign in on."""
        response = super().post_login(request, user, **kwargs)
        member = member_of_user(user)
        if member is not None:
            language_cookie_set(response, member.language)
        return response

    def logout(self, request: HttpRequest) -> None:
        """Signing out also stops this browser's notifications, so the next
        person to use it is not shown this member's (the service worker
        unsubscribes the browser itself and forgets the kept card)."""
        subscription_id = request.session.get(PUSH_SESSION_KEY)
        member = member_of_user(request.user) if request.user.is_authenticated else None
        if isinstance(subscription_id, int) and member is not None:
            push_subscription_remove_by_id(member=member, subscription_id=subscription_id)
        super().logout(request)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        if is_staff_user(request.user):
            return reverse("staff:home")
        return reverse("portal:home")
