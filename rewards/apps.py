from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Rewards")

    def ready(self) -> None:
        # ledger_check (members, a lower layer) runs the checks of gift cards.
        from members.checks import ledger_check_register
        from rewards.ledger_checks import gift_card_problems

        ledger_check_register(gift_card_problems)

        # A member's redemptions, vouchers and gift cards are part of their
        # data document (members.privacy).
        from members.privacy import member_export_section_register
        from rewards.privacy import member_rewards_export

        member_export_section_register("rewards", member_rewards_export)
