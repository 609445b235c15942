"""Which IP addresses the server may send to: the one rule webhooks
(loyalty/webhooks.py) and web push (loyalty/webpush.py) both check, so a
merchant's endpoint or a browser's push service never reaches the server's
own network."""

from __future__ import annotations

import ipaddress

from django.utils.translation import gettext as _


def address_refusal(address: str) -> str | None:
    """Why nothing may be sent to `address` (an IP), or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return _("it is a loopback address")
    if ip.is_link_local:
        return _("it is a link-local address")
    if ip.is_multicast:
        return _("it is a multicast address")
    if ip.is_private:
        return _("it is a private address")
    if ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return _("it is a reserved address")
    return None
