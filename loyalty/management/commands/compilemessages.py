"""Django's `compilemessages`, which also works where GNU gettext is missing.

`make run` must work on a machine with only Python: when `msgfmt` is not on
the PATH, the project's own catalogues (`locale/*/LC_MESSAGES/*.po`) are
compiled with polib instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.commands import compilemessages
from django.core.management.utils import find_command


class Command(compilemessages.Command):
    def handle(self, **options: Any) -> None:
        if find_command(self.program):
            super().handle(**options)
            return
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                if options["verbosity"] > 0:
                    self.stdout.write(f"processing file {po_path.name} in {po_path.parent} (polib)")
