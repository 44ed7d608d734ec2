"""Section 4: the slowdown checks' measured hit and false-alarm rates (``sepbench check ab-rates`` / ``gate-rates``)."""

from __future__ import annotations

import pandas as pd

from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec
from sepbench.results.read_rates import RATE_FIELDS

_RENAME = {"kind": "check", "created": "date"}
# the reader's fields, as the section names them
RATE_COLUMNS = [_RENAME.get(f, f) for f in RATE_FIELDS]


def check_rates(loaded_rates: pd.DataFrame) -> pd.DataFrame:
    """The newest ab-rates and gate-rates file of each machine (by the date it was written, then file
    name), one row per slowdown factor, in factor order."""
    if loaded_rates.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    s = loaded_rates.rename(columns=_RENAME)
    when = pd.to_datetime(s["date"], utc=True, errors="coerce", format="ISO8601")
    files = s.assign(_when=when).drop_duplicates("source_file")
    files = files.sort_values(["_when", "source_file"], na_position="first", kind="stable")
    newest = files.groupby(["check", "machine"], sort=False)["source_file"].last()
    out = s[s["source_file"].isin(set(newest))]
    return out.sort_values(["check", "machine", "factor"], kind="stable").reset_index(drop=True)[RATE_COLUMNS]


NOTE = (
    "The newest `sepbench check ab-rates` and `sepbench check gate-rates` of each machine: commits that slow one case by "
    "real extra work (factor = the work done / the base commit's; 1.00 = a no-op commit), each judged `trials` times by the "
    "A/B check (`sepbench check ab`) or the benchmark gate (`nox -s bench -- --compare`). At factor 1.00 every alert is a "
    "false alarm; above it an alert on the slowed case is a hit, so `rate` is the false-alarm rate at 1.00 and the hit rate "
    "above, with its 95 % Wilson interval. measured slowdown = the median slowed/base ratio the tool estimated for the slowed "
    "case; other false alarms = trials in which a case that was not slowed alerted; wall s = seconds per check run "
    "(median / max); commit = the base commit the slowed commits were made on. Configuration: "
)

RATES = SectionSpec(
    key="check_rates",
    title="4. The slowdown checks: measured hit and false-alarm rates",
    note=lambda table: NOTE + fmt.rate_configs(table) + ".",
    table=lambda i: check_rates(i.rates),
    shown=fmt.rates,
    optional=True,
)
