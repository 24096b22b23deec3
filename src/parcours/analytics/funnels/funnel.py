"""Funnels: how many subjects reach each step, how fast, and who drops out.

Two named semantics so that a team moving from another tool gets the numbers it knows:
``posthog`` (ordered, strict, unordered; exclusions; breakdowns; the default) and
``clickhouse`` (``windowFunnel`` and its modes). The rules are in ``docs/funnels.md``.

Every function takes the funnel as ``steps`` plus keyword options (``window``, ``semantics``,
``mode``, ``exclusions``, ``aggregate_by``, ``breakdown``, ``optional``, ``max_gap_seconds``,
``min_gap_seconds``, ``repeat``, ``names``) or as ``spec`` (a dict in the case-file format,
or a ``FunnelSpec``), and a ``Filter``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from parcours.analytics.funnels.query import (
    KEY_SEP,
    int_column,
    map_subjects,
    subject_results,
    touch_values,
)
from parcours.analytics.funnels.spec import FunnelSpec, build_spec
from parcours.engine.kernels import funnel as kernels
from parcours.errors import ParcoursError
from parcours.query.filter import Filter

StepSpec = str | dict


def _spec(steps: list[StepSpec] | None, spec: dict | FunnelSpec | None, options: dict[str, Any]) -> FunnelSpec:
    if isinstance(spec, FunnelSpec):
        return spec.validate_all()
    return build_spec(steps, spec=spec, **options)


def _subjects(store, spec: FunnelSpec, filter: Filter | None, keys: bool = True) -> pd.DataFrame:
    """Kernel results per subject with a ``customer`` (unless ``keys=False``) and a ``breakdown`` column."""
    b = spec.breakdown
    keys = keys or (b is not None and b.attribution != "step")  # those breakdowns join on the subject
    df = subject_results(store, spec, filter, keys=keys)
    if not keys:
        df["breakdown"] = df["step_bval"] if b is not None else None
        return df
    if b is None:
        df["breakdown"] = None
    elif b.attribution == "all_events":
        parts = df["gkey"].str.split(KEY_SEP, n=1, expand=True)
        df["breakdown"], df["gkey"] = (parts[0], parts[1]) if len(df) else (None, df["gkey"])
    elif b.attribution == "step":
        df["breakdown"] = df["step_bval"]
    else:
        touch = touch_values(store, spec, filter).rename(columns={"bval": "breakdown"})
        df = df.merge(touch, on="gkey", how="left")
    return df.rename(columns={"gkey": "customer"})


def _seconds(df: pd.DataFrame, a: int, b: int) -> pd.Series:
    """Seconds from step ``a`` to step ``b`` (1-based) on each subject's best path."""
    return (df[f"ts_{b}"] - df[f"ts_{a}"]) / 1e6


def _step_rows(df: pd.DataFrame, spec: FunnelSpec) -> list[dict]:
    """The per-step figures, on numpy arrays (no frame copied per step: a million subjects is common)."""
    names = spec.step_names()
    level = df["level"].to_numpy()
    ts = {i: df[f"ts_{i}"].to_numpy(dtype=float) for i in range(1, spec.n + 1)}
    rows: list[dict] = []
    first = prev = 0
    for i in range(1, spec.n + 1):
        reached = level >= i
        if i in spec.optional:
            reached &= ~np.isnan(ts[i])
        customers = int(reached.sum())
        times = np.empty(0)
        if i > 1:
            t = (ts[i][reached] - ts[i - 1][reached]) / 1e6
            times = t[t > 0]  # NaN (an optional step skipped) compares False
        if i == 1:
            first = customers
        rows.append({
            "step": i, "name": names[i - 1], "customers": customers,
            "conversion_from_previous": (customers / prev if prev else None) if i > 1 else (1.0 if customers else None),
            "conversion_from_first": customers / first if first else None,
            "drop_off": prev - customers if i > 1 else 0,
            "avg_seconds_from_previous": float(times.mean()) if len(times) else None,
            "median_seconds_from_previous": float(np.median(times)) if len(times) else None,
            "p90_seconds_from_previous": float(np.quantile(times, 0.9)) if len(times) else None,
        })
        prev = customers
    return rows


def _check_drop_step(fs: FunnelSpec, step: int) -> None:
    if not 2 <= step <= fs.n:
        raise ParcoursError(f"`step` {step}: must be one of 2..{fs.n} (1-based; the step they did not reach)")


def _check_ttc_steps(fs: FunnelSpec, from_step: int, to_step: int | None) -> int:
    """The 0-based ``to_step`` (default: the last step), checked against ``from_step``."""
    to_step = fs.n - 1 if to_step is None else to_step
    if not 0 <= from_step < to_step <= fs.n - 1:
        raise ParcoursError(f"time to convert: needs 0 <= from_step < to_step <= {fs.n - 1} (0-based)")
    return to_step


class FunnelRun:
    """One funnel computed once and read several ways.

    A page that shows the steps, the time to convert and who dropped out reads them all from
    one run of the kernel instead of one each. The module's functions are thin wrappers.
    """

    def __init__(self, store, steps: list[StepSpec] | None = None, *, filter: Filter | None = None,
                 spec: dict | FunnelSpec | None = None, keys: bool = True, **options: Any):
        self.spec = _spec(steps, spec, options)
        #: one row per subject (see ``_subjects``); without ``keys`` only the step table can be read
        self.subjects = _subjects(store, self.spec, filter, keys=keys)

    def steps(self) -> pd.DataFrame:
        """See ``funnel``."""
        fs, df = self.spec, self.subjects
        if df["excluded"].any():
            df = df[~df["excluded"]]
        if fs.breakdown is None:
            return pd.DataFrame(_step_rows(df, fs))
        rows = []
        for value, part in df.groupby("breakdown", dropna=False, sort=True):
            if not (part["level"] >= 1).any():
                continue  # a value with no step-1 subject gets no row
            rows += [{"breakdown": None if _isna(value) else value, **r} for r in _step_rows(part, fs)]
        columns = ["breakdown", *_step_rows(df.iloc[:0], fs)[0]]
        return pd.DataFrame(rows, columns=columns)

    def customers(self) -> pd.DataFrame:
        """See ``funnel_customers``."""
        df = self.subjects
        out = df[["customer", "breakdown", "level", "excluded", "conversions"]].copy()
        for i in range(1, self.spec.n + 1):
            out[f"step_{i}_at"] = pd.to_datetime(df[f"ts_{i}"], unit="us")
        return out.sort_values(["customer"], kind="stable").reset_index(drop=True)

    def dropped(self, step: int = 2) -> pd.DataFrame:
        """See ``dropped_customers``."""
        _check_drop_step(self.spec, step)
        df = self.subjects
        df = df[~df["excluded"] & (df["level"] == step - 1)]
        out = df[["customer", "breakdown", "level"]].copy()
        out["last_step_at"] = pd.to_datetime(df[f"ts_{step - 1}"], unit="us")
        return out.sort_values("customer", kind="stable").reset_index(drop=True)

    def time_to_convert(self, from_step: int = 0, to_step: int | None = None,
                        bin_count: int | None = None) -> pd.DataFrame:
        """See ``time_to_convert``."""
        to_step = _check_ttc_steps(self.spec, from_step, to_step)
        df = self.subjects
        df = df[~df["excluded"] & (df["level"] >= to_step + 1)]
        samples = _seconds(df, from_step + 1, to_step + 1).dropna().to_numpy(dtype=float)
        out = pd.DataFrame(columns=["bin_start_seconds", "customers"])
        if len(samples) == 0:
            out.attrs["average_conversion_time"] = None
            return out
        lo, hi = math.floor(samples.min()), math.ceil(samples.max())
        bins = min(max(bin_count, 1), 90) if bin_count else min(max(math.ceil(len(samples) ** (1 / 3) - 1e-9), 1), 60)
        width = math.ceil((hi - lo) / bins) or 60
        idx = np.floor((samples - lo) / width).astype(int)
        counts = np.bincount(idx, minlength=bins + 1)[: bins + 1]
        out = pd.DataFrame({"bin_start_seconds": [lo + k * width for k in range(bins + 1)], "customers": counts})
        out.attrs["average_conversion_time"] = round(float(samples.mean()), 2)
        return out


def funnel(store, steps: list[StepSpec] | None = None, *, filter: Filter | None = None,
           spec: dict | FunnelSpec | None = None, **options: Any) -> pd.DataFrame:
    """One row per step (per breakdown value when ``breakdown`` is given).

    Columns: ``breakdown`` (with a breakdown only), ``step`` (1-based), ``name``, ``customers``
    (subjects whose best path reached the step; subjects removed by an exclusion are not
    counted anywhere), ``conversion_from_previous`` and ``conversion_from_first`` (0..1),
    ``drop_off`` (reached the previous step, not this one), ``avg_seconds_from_previous``,
    ``median_seconds_from_previous``, ``p90_seconds_from_previous`` (time from the previous
    step on the best path; zero-second steps are left out, as in PostHog).
    """
    # counting needs no subject ids: a million strings turned into Python objects cost more than the kernel
    return FunnelRun(store, steps, filter=filter, spec=spec, keys=False, **options).steps()


def _isna(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def funnel_customers(store, steps: list[StepSpec] | None = None, *, filter: Filter | None = None,
                     spec: dict | FunnelSpec | None = None, **options: Any) -> pd.DataFrame:
    """One row per subject that had a step event (every event under strict modes).

    Columns: ``customer`` (the subject: the stitched customer id, or the session/property
    value with ``aggregate_by``), ``breakdown``, ``level`` (deepest step reached, 0 if none),
    ``excluded`` (removed by an exclusion), ``conversions`` (completed funnels; more than 1
    only with ``repeat=True``), ``step_1_at`` .. ``step_N_at`` (UTC times on the best path).
    """
    return FunnelRun(store, steps, filter=filter, spec=spec, **options).customers()


def dropped_customers(store, steps: list[StepSpec] | None = None, *, step: int = 2,
                      filter: Filter | None = None, spec: dict | FunnelSpec | None = None,
                      **options: Any) -> pd.DataFrame:
    """Subjects who reached step ``step - 1`` but not ``step`` (1-based): who to follow up.

    Columns: ``customer``, ``breakdown``, ``level``, ``last_step_at`` (when they reached ``step - 1``).
    """
    fs = _spec(steps, spec, options)
    _check_drop_step(fs, step)  # before the run: a bad step costs no query
    return FunnelRun(store, spec=fs, filter=filter).dropped(step)


def time_to_convert(store, steps: list[StepSpec] | None = None, *, from_step: int = 0,
                    to_step: int | None = None, bin_count: int | None = None, filter: Filter | None = None,
                    spec: dict | FunnelSpec | None = None, **options: Any) -> pd.DataFrame:
    """Histogram of the time from step ``from_step`` to ``to_step`` (0-based, PostHog's bins).

    Columns: ``bin_start_seconds``, ``customers``. ``df.attrs["average_conversion_time"]``
    is the mean in seconds (2 dp). Bins: ``bin_count`` (1..90) or ``ceil(cbrt(n))`` (1..60)
    bins of ``ceil((ceil(max) - floor(min)) / bins)`` seconds (60 if that is 0), one extra bin
    at the end, each sample in the bin below it.
    """
    fs = _spec(steps, spec, options)
    _check_ttc_steps(fs, from_step, to_step)  # before the run: a bad range costs no query
    return FunnelRun(store, spec=fs, filter=filter).time_to_convert(from_step, to_step, bin_count)


_INTERVALS = {"hour": "h", "day": "D", "week": "W-SUN", "month": "M"}


def _period(ts: pd.Series, interval: str) -> pd.Series:
    if interval in ("hour", "day"):
        return ts.dt.floor(_INTERVALS[interval])
    return ts.dt.to_period(_INTERVALS[interval]).dt.start_time


def conversion_trends(store, steps: list[StepSpec] | None = None, *, interval: str = "day",
                      filter: Filter | None = None, spec: dict | FunnelSpec | None = None,
                      **options: Any) -> pd.DataFrame:
    """Conversion by period of entry (PostHog's funnel trends, ordered steps).

    Columns: ``period_start``, ``reached_from_step_count`` (subjects with a step-1 event in
    the period), ``reached_to_step_count`` (those of them whose path from such an entry
    completes every step within the window), ``conversion_rate`` (percent, 2 dp). A subject
    can count in several periods. Periods without entries between the filter's start and
    end (or the first and last entry) are listed with zeros. Exclusions apply as in PostHog: an
    entry whose path meets an exclusion event between the exclusion's steps, within its
    window, counts nowhere; when such a tainted path then does its next step, the subject's
    entries that did not convert count nowhere either (PostHog funnel-udf's full exclusion).
    """
    fs = _spec(steps, spec, options)
    if interval not in _INTERVALS:
        raise ParcoursError(f"`interval` {interval!r}: use one of {', '.join(_INTERVALS)}")
    if fs.semantics != "posthog" or fs.mode_name() == "unordered":
        raise ParcoursError("conversion trends need a posthog ordered or strict funnel")
    n, window = fs.n, min(int(fs.window_seconds * 1e6), kernels.MAX_WINDOW_US)
    x_from = np.array([x.funnel_from_step for x in fs.exclusions], dtype=np.int64)
    x_to = np.array([x.funnel_to_step for x in fs.exclusions], dtype=np.int64)
    schema = pa.schema([("gkey", pa.string()), ("entry_ts", pa.int64()), ("level", pa.int32()),
                        ("excluded", pa.bool_()), ("full", pa.bool_())])

    def per_batch(batch: pa.RecordBatch) -> pa.Table:
        keys = batch.column("gkey")
        starts = kernels.group_starts(keys)
        g, t, lv, x, full = kernels.trends_entries(starts, int_column(batch, "ts"), int_column(batch, "mask"),
                                                   int_column(batch, "xmask"), n, window, x_from, x_to)
        return pa.Table.from_arrays([keys.take(pa.array(starts[g])), pa.array(t), pa.array(lv), pa.array(x),
                                     pa.array(full)], schema=schema)

    entries = map_subjects(store, fs, filter, per_batch, schema).to_pandas()
    # PostHog drops the excluded entries' rows altogether, and when a tainted path went on to a
    # later step (a full exclusion) every entry of that subject that did not convert
    fully = entries.loc[entries["full"], "gkey"].unique()
    entries = entries[~entries["excluded"] & ~(entries["gkey"].isin(fully) & (entries["level"] < n))]
    entries["period_start"] = _period(pd.to_datetime(entries["entry_ts"], unit="us"), interval)
    per = entries.groupby(["gkey", "period_start"], as_index=False)["level"].max()
    per["converted"] = per["level"] >= n
    out = per.groupby("period_start").agg(reached_from_step_count=("gkey", "size"),
                                          reached_to_step_count=("converted", "sum"))
    first = filter.start if filter and filter.start else (out.index.min() if len(out) else None)
    last = filter.end - pd.Timedelta(microseconds=1) if filter and filter.end else (out.index.max() if len(out) else None)
    if first is None or last is None:
        return pd.DataFrame(columns=["period_start", "reached_from_step_count", "reached_to_step_count", "conversion_rate"])
    span = _period(pd.Series(pd.to_datetime([first, last], utc=True).tz_convert(None)), interval)
    index = pd.date_range(span.iloc[0], span.iloc[1], freq="MS" if interval == "month" else
                          ("7D" if interval == "week" else _INTERVALS[interval]))
    out = out.reindex(index, fill_value=0).rename_axis("period_start").reset_index()
    out["conversion_rate"] = np.where(out["reached_from_step_count"] > 0,
                                      (100 * out["reached_to_step_count"] / out["reached_from_step_count"].where(
                                          out["reached_from_step_count"] > 0, 1)).round(2), 0.0)
    return out[["period_start", "reached_from_step_count", "reached_to_step_count", "conversion_rate"]]
