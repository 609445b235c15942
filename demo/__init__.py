"""Demo data for `make run`: a believable shop, loaded once (`manage.py load_demo_data`).

The demo sits above every app (DESIGN.md §2): it may call the services of
all of them, and writes only through services, so demo data obeys the same
rules as real data. One module per app, each calling that app's services as
a real shop would: `demo.loyalty` (stores, program, staff, tills),
`demo.members` (tiers, members and their habits, corrections),
`demo.rewards` (catalogue, redemptions, vouchers used) and `demo.purchases`
(sales and returns); `demo.shop` holds what they share, `demo.loader` puts
them together. Each feature issue grows it: campaigns and challenges add
`demo/campaigns.py`, set up before the history and scheduled on the shop's
timeline like the others; `demo/surveys.py` plays the last months' survey
invitations, answers and follow-ups on it.

The shop is a kopitiam and lifestyle store with three branches. About two
hundred members with Malaysian names joined over the past fourteen months;
their visits are replayed in time order through the same services the tills
use (backdated `occurred_at`), with the scheduled jobs run every night of the
replay and once more as of now, so balances, expiry, tiers and history agree.
Everything is drawn from one `random.Random(seed)`: the same seed on the same
day gives the same shop (card numbers and ids stay random, as in production).
"""
