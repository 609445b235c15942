"""`Authorization: Api-Key <key>` for tills and shops. (The portal's own calls use
DRF's SessionAuthentication.)"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from loyalty.models import ApiKey
from loyalty.selectors import api_key_get_active
from loyalty.services import api_key_touch

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates a request signed with an API key.

    `request.user` stays anonymous (a key is not a person); `request.auth` is
    the `ApiKey`. A header that names the scheme but carries an unknown or
    revoked key is refused outright rather than passed to the next scheme.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        api_key = api_key_get_active(key=key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key_touch(api_key=api_key)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were given.
        return KEYWORD
