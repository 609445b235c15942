"""What other apps do when a member enrols: a registry of enrolment hooks.

Members sits in layer 2; what an enrolment sets off above it (a referral
recorded by campaigns, layer 4; later a welcome bonus) must not be imported
here, and DESIGN.md §2 rules out Django signals for business logic. So, as
`members.checks` does for the ledger checks, an app registers a plain
function from its AppConfig.ready with `enrolment_hook_register`, and
`members.services.member_enrol` calls every hook inside its own transaction,
after the member, its account and its entry tier are written:

- a hook gets an `Enrolment` (the new member, the moment, the channel, the
  referrer whose code was given, the sign-up's network address);
- a hook writes through its own app's services, in the enrolment's
  transaction: if it raises, nothing of the enrolment is kept (a hook that
  refuses raises ValidationFailed naming the field, which the API shows as
  `400 invalid` and a page as a form error);
- hooks run in the order they were registered; registering one twice is a
  no-op.

Which referral code is valid is known here (it is a member's own field):
`member_enrol` refuses an unknown code itself, so the hooks get the referrer
and never a bare code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from members.models import Member


class Channel:
    COUNTER = "counter"
    API = "api"
    PORTAL = "portal"
    IMPORT = "import"


@dataclass(frozen=True)
class Enrolment:
    member: Member
    at: datetime
    channel: str
    referrer: Member | None = None
    # The sign-up's network address (portal), for the fraud checks; None elsewhere.
    address: str | None = None


EnrolmentHook = Callable[[Enrolment], None]

_hooks: list[EnrolmentHook] = []


def enrolment_hook_register(hook: EnrolmentHook) -> None:
    """Call `hook` on every enrolment, in the enrolment's transaction."""
    if hook not in _hooks:
        _hooks.append(hook)


def enrolment_hooks_run(enrolment: Enrolment) -> None:
    for hook in _hooks:
        hook(enrolment)
