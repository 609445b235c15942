from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PurchasesConfig(AppConfig):
    name = "purchases"
    verbose_name = _("Purchases")

    def ready(self) -> None:
        # ledger_check (members, a lower layer) runs the checks of returns.
        from members.checks import ledger_check_register
        from purchases.ledger_checks import return_problems

        ledger_check_register(return_problems)

        # The upload page and the command (loyalty.imports) read purchases files here.
        from loyalty.imports import importer_register
        from purchases.imports import purchases_import

        importer_register("purchases", purchases_import)

        # A member's purchases are part of their data document (members.privacy).
        from members.privacy import member_export_section_register
        from purchases.privacy import member_purchases_export

        member_export_section_register("purchases", member_purchases_export)
