"""What other apps do when a member joins, without members importing them.

members sits below campaigns (DESIGN.md §2) and business logic does not ride
on Django signals, so an app above that must act on an enrolment (the
campaigns' welcome bonus, a referral code) registers a hook here from its
AppConfig.ready, as the ledger checks do (members.checks). `member_enrol`
runs every hook inside its own transaction, after the member and the
account exist: a hook that raises refuses the enrolment, and what a hook
writes rolls back with it.

A hook is called as `hook(member, now, context)`: `context` is what the
enrolling channel passed to `member_enrol` (e.g. a referral code), an empty
dict when nothing; hooks read the keys they know and ignore the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from members.models import Member

MemberEnrolledHook = Callable[["Member", datetime, Mapping[str, Any]], None]

member_enrolled_hooks: list[MemberEnrolledHook] = []


def member_enrolled_hook_register(hook: MemberEnrolledHook) -> None:
    """Run `hook` on every enrolment, once however often it is registered."""
    if hook not in member_enrolled_hooks:
        member_enrolled_hooks.append(hook)


def member_enrolled_hooks_run(
    *, member: Member, now: datetime, context: Mapping[str, Any] | None = None
) -> None:
    """Every registered hook, in registration order (member_enrol calls it)."""
    for hook in member_enrolled_hooks:
        hook(member, now, dict(context or {}))
