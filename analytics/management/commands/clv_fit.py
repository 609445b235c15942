"""`manage.py clv_fit [--as-of DATE] [--period day|week]`: fit BG/NBD and
Gamma-Gamma on the purchases up to DATE and print the parameters as JSON
(API.md, "Operations"). Reads only."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from analytics.clv import FitFailed
from analytics.models import PredictionPeriod
from analytics.predictions import prediction_fit


class Command(BaseCommand):
    help = (
        "Fit BG/NBD and Gamma-Gamma on the purchases up to --as-of (a date: that day "
        "included; a time: before it; default now) and print the parameters as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD or an ISO 8601 time")
        parser.add_argument(
            "--period", choices=PredictionPeriod.values, default=PredictionPeriod.DAY
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = timezone.now()
        if options["as_of"]:
            day = parse_date(options["as_of"]) if len(options["as_of"]) == 10 else None
            moment = parse_datetime(options["as_of"]) if day is None else None
            if day is not None:
                as_of = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
            elif moment is not None:
                as_of = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
            else:
                raise CommandError(f"--as-of is not a date or an ISO 8601 time: {options['as_of']}")
        try:
            fit = prediction_fit(as_of=as_of, period=options["period"])
        except FitFailed as exc:
            raise CommandError(f"cannot fit: {exc}") from exc
        spend = fit.gamma_gamma
        self.stdout.write(
            json.dumps(
                {
                    "customers": fit.bgnbd.customers,
                    "period": fit.period,
                    "as_of": fit.as_of.isoformat(),
                    "bgnbd": {
                        "r": fit.bgnbd.r,
                        "alpha": fit.bgnbd.alpha,
                        "a": fit.bgnbd.a,
                        "b": fit.bgnbd.b,
                        "log_likelihood": fit.bgnbd.log_likelihood,
                    },
                    "gamma_gamma": None
                    if spend is None
                    else {
                        "p": spend.p,
                        "q": spend.q,
                        "v": spend.v,
                        "log_likelihood": spend.log_likelihood,
                        "customers": spend.customers,
                    },
                    "seconds": round(fit.seconds, 3),
                }
            )
        )
