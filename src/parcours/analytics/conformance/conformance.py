"""Conformance of observed journeys to the designed one: fitness and deviations per customer.

Each customer's touchpoints in time order form a sequence (events that map to no touchpoint
are counted apart as ``off_map``; ignored events such as identify calls are not counted).
The sequences come out of the engine through ``Engine.map_groups`` (the same code runs in
Spark's ``mapInArrow``); each distinct sequence (variant) is aligned once against the
designed net by the compiled A* kernel, and every customer of the variant shares its
fitness and deviations. See docs/conformance.md.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from parcours.analytics.conformance.align import Alignment, Graph, align, reachability
from parcours.analytics.conformance.net import Net, journey_net
from parcours.analytics.filters import events
from parcours.config import JourneyConfig
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter
from parcours.store.store import Store

SEP = "\x1f"
_SCHEMA = pa.schema([("customer_id", pa.string()), ("sequence", pa.string()),
                     ("off_map", pa.int64()), ("converted", pa.bool_())])

#: deviation kinds, in the words of the issue
SKIPPED_STAGE = "skipped stage"
SKIPPED_REQUIRED = "skipped required touchpoint"
BACK = "back to an earlier stage"
OUT_OF_ORDER = "out-of-order touchpoint"
REPEATED = "repeated non-repeatable touchpoint"
KINDS = (SKIPPED_STAGE, SKIPPED_REQUIRED, BACK, OUT_OF_ORDER, REPEATED)


def _sequences_fn(purchase_event: str):
    """Per batch of whole customers (sorted by customer, then time): one row per customer.

    Vectorized with Arrow and NumPy rather than a loop over events: the sequences are list
    arrays over the events that have a touchpoint, cut at each customer's boundary, joined by
    ``SEP``; the loop was most of the time of the whole conformance pass.
    """
    def fn(batch: pa.RecordBatch) -> pa.Table:
        if batch.num_rows == 0:
            return _SCHEMA.empty_table()
        customers = batch.column("customer_id")
        keys = customers.to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(keys))))
        touchpoints = batch.column("touchpoint")
        mapped = touchpoints.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.concatenate(([0], np.cumsum(np.bincount(group[mapped], minlength=len(starts)))))
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), touchpoints.filter(mapped))
        bought = pc.fill_null(pc.equal(batch.column("event"), purchase_event), False).to_numpy(zero_copy_only=False)
        return pa.table({
            "customer_id": customers.take(pa.array(starts)),
            "sequence": pc.binary_join(lists, SEP),
            "off_map": np.bincount(group[~mapped], minlength=len(starts)).astype(np.int64),
            "converted": np.bincount(group[bought], minlength=len(starts)) > 0,
        }, schema=_SCHEMA)
    return fn


def customer_sequences(store: Store, filter: Filter | None = None) -> pd.DataFrame:
    """One row per customer: ``customer_id``, ``sequence`` (touchpoints joined by \\x1f, time order),
    ``off_map`` (events matching no touchpoint), ``converted`` (did the purchase event)."""
    config = store.config
    query = sql("SELECT customer_id, touchpoint, event FROM {events} j "
                "WHERE touchpoint IS NOT NULL OR event IS NULL OR event NOT IN ({ignored}) "
                "ORDER BY customer_id, timestamp", events=events(store, filter), ignored=list(config.ignored_events))
    table = store.engine.map_groups(query, "customer_id", _sequences_fn(config.purchase_event), _SCHEMA)
    return table.to_pandas()


class Designed:
    """The designed journey, its net and reachability graph: built once per analysis."""

    def __init__(self, config: JourneyConfig):
        self.config = config
        self.net: Net = journey_net(config)
        self.graph: Graph = reachability(self.net)
        self.stage_of = {t.name: t.stage for t in config.touchpoints}
        self.stage_index = {s.name: i for i, s in enumerate(config.stages)}
        self.touchpoint = {t.name: t for t in config.touchpoints}  # looked up once per move
        #: per stage in order, its name when it may not be skipped, else None
        self.needed = [None if s.skippable else s.name for s in config.stages]
        self.labels = [t.label for t in self.net.transitions]

    def deviations(self, seq: list[str], al: Alignment) -> list[dict]:
        """The deviations an alignment shows, named by the journey rules (first occurrence order)."""
        out: list[dict] = []
        visited = {self.stage_of[t] for t in seq}
        synced_stages: set[str] = set()
        furthest = -1
        skipped_stages: set[str] = set()
        for kind, ref in zip(al.kinds.tolist(), al.refs.tolist(), strict=True):
            if kind == 0:  # synchronous
                tp = self.labels[ref]
                synced_stages.add(self.stage_of[tp])
                furthest = max(furthest, self.stage_index[self.stage_of[tp]])
            elif kind == 1:  # model move: the design needed a touchpoint the customer did not do here
                tp = self.labels[ref]
                stage = self.stage_of[tp]
                t = self.touchpoint[tp]
                if t.is_required and stage in visited:
                    out.append({"kind": SKIPPED_REQUIRED, "stage": stage, "touchpoint": tp, "position": None})
                elif stage not in skipped_stages:
                    skipped_stages.add(stage)
                    out.append({"kind": SKIPPED_STAGE, "stage": stage, "touchpoint": None, "position": None})
            elif kind == 2:  # log move: the customer did something the design has no place for here
                tp = seq[ref]
                stage = self.stage_of[tp]
                t = self.touchpoint[tp]
                k = self.stage_index[stage]
                if k < furthest:
                    kind_name = BACK
                elif not t.repeatable and seq.count(tp) > 1:
                    kind_name = REPEATED
                elif gap := [s for s in self.needed[furthest + 1:k] if s and s not in visited]:
                    # jumped over stages the design needs: name the stages, not the jump
                    for s in gap:
                        if s not in skipped_stages:
                            skipped_stages.add(s)
                            out.append({"kind": SKIPPED_STAGE, "stage": s, "touchpoint": None, "position": ref})
                    continue
                else:
                    kind_name = OUT_OF_ORDER
                out.append({"kind": kind_name, "stage": stage, "touchpoint": tp, "position": ref})
        return out


def _fitness_rows(store: Store, filter: Filter | None) -> tuple[pd.DataFrame, dict, Designed]:
    designed = Designed(store.config)
    seqs = customer_sequences(store, filter)
    variants: dict[str, tuple[Alignment, list[dict]]] = {}
    for key in seqs["sequence"].unique():
        seq = key.split(SEP) if key else []
        al = align(designed.graph, seq)
        variants[key] = (al, designed.deviations(seq, al) if al.cost else [])  # cost 0: sync and silent moves only
    return seqs, variants, designed


def conformance_customers(store: Store, *, filter: Filter | None = None) -> pd.DataFrame:
    """Fitness and deviations per customer.

    Columns: ``customer`` (customer id), ``fitness`` (pm4py's alignment-based fitness, 0..1),
    ``cost`` (log moves + visible model moves), ``touchpoints`` (events on the map),
    ``off_map`` (events matching no touchpoint), ``converted``, ``deviations`` (list of
    ``{kind, stage, touchpoint, position}``), ``variant`` (the sequence, touchpoints joined by " > ").
    Customers with no touchpoint on the map have ``fitness`` None (nothing to align).
    """
    seqs, variants, _ = _fitness_rows(store, filter)
    table = pd.DataFrame([{"sequence": k, "fitness": al.fitness if k else None, "cost": al.cost if k else None,
                           "touchpoints": len(k.split(SEP)) if k else 0, "deviations": devs if k else [],
                           "variant": k.replace(SEP, " > ")} for k, (al, devs) in variants.items()],
                         columns=["sequence", "fitness", "cost", "touchpoints", "deviations", "variant"])
    df = seqs.rename(columns={"customer_id": "customer"}).merge(table, on="sequence", how="left")
    df["off_map"] = df["off_map"].astype("int64")
    df["converted"] = df["converted"].astype(bool)
    cols = ["customer", "fitness", "cost", "touchpoints", "off_map", "converted", "deviations", "variant"]
    return df[cols].sort_values("customer", kind="stable").reset_index(drop=True)


def conformance_overview(store: Store, *, filter: Filter | None = None, top: int = 10, examples: int = 3) -> dict:
    """The design against what customers did, as four tables (DataFrames) in a dict.

    - ``stages``: per stage, ``customers`` who reached it, ``followed`` (of them, no deviation
      in that stage) and ``share`` followed;
    - ``touchpoints``: the same per touchpoint (customers with it, or who the design needed there);
    - ``deviations``: per ``kind``/``stage``/``touchpoint``, ``customers`` and ``example_customers``;
    - ``variants``: the happy path (the designed path, rank 0) and the ``top`` most common actual
      variants: ``path``, ``customers``, ``share``, ``conversion``, ``fitness``.
    """
    per = conformance_customers(store, filter=filter)
    per = per[per["touchpoints"] > 0]
    total = len(per)
    config = store.config
    stage_of = {t.name: t.stage for t in config.touchpoints}
    reached: dict[str, set] = {s.name: set() for s in config.stages}
    tp_customers: dict[str, set] = {t.name: set() for t in config.touchpoints}
    dev_stage: dict[str, set] = {s.name: set() for s in config.stages}
    dev_tp: dict[str, set] = {t.name: set() for t in config.touchpoints}
    dev_rows: dict[tuple, list] = {}
    for r in per.itertuples(index=False):
        tps = set(r.variant.split(" > "))
        for tp in tps:
            reached[stage_of[tp]].add(r.customer)
            tp_customers[tp].add(r.customer)
        for d in r.deviations:
            dev_stage[d["stage"]].add(r.customer)
            reached[d["stage"]].add(r.customer)
            if d["touchpoint"]:
                dev_tp[d["touchpoint"]].add(r.customer)
                tp_customers[d["touchpoint"]].add(r.customer)
            dev_rows.setdefault((d["kind"], d["stage"], d["touchpoint"]), []).append(r.customer)
    stages = pd.DataFrame([{"stage": s, "customers": len(c), "followed": len(c - dev_stage[s]),
                            "share": (len(c - dev_stage[s]) / len(c)) if c else None} for s, c in reached.items()])
    touchpoints = pd.DataFrame([{"stage": stage_of[t], "touchpoint": t, "customers": len(c),
                                 "followed": len(c - dev_tp[t]), "share": (len(c - dev_tp[t]) / len(c)) if c else None}
                                for t, c in tp_customers.items()])
    devs = []
    for (kind, stage, tp), custs in dev_rows.items():
        unique = list(dict.fromkeys(custs))
        devs.append({"kind": kind, "stage": stage, "touchpoint": tp, "customers": len(unique),
                     "share": len(unique) / total if total else None, "example_customers": unique[:examples]})
    deviations = pd.DataFrame(devs, columns=["kind", "stage", "touchpoint", "customers", "share", "example_customers"])
    deviations = deviations.sort_values(["customers", "kind", "stage"], ascending=[False, True, True],
                                        kind="stable").head(top * 3).reset_index(drop=True)
    return {"customers": total, "stages": stages, "touchpoints": touchpoints, "deviations": deviations,
            "variants": _variants(per, config, top)}


def happy_path(config: JourneyConfig) -> list[str]:
    """The designed path: per stage in order, its required touchpoints (``after`` respected, else
    file order), or its first touchpoint when it needs one and none is required; a skippable
    stage without required touchpoints is passed by."""
    path: list[str] = []
    for s in config.stages:
        tps = [t for t in config.touchpoints if t.stage == s.name]
        needed = [t for t in tps if t.is_required]
        if not needed and tps and not s.skippable:
            needed = [tps[0]]
        done: set[str] = set()
        while len(done) < len(needed):
            for t in needed:
                if t.name not in done and all(u in done or u not in {x.name for x in needed} for u in t.after):
                    done.add(t.name)
                    path.append(t.name)
    return path


def _variants(per: pd.DataFrame, config: JourneyConfig, top: int) -> pd.DataFrame:
    """Rank 0 is the happy path; its ``customers`` are those who fit the design fully (fitness 1)
    and reached the last stage. Then the ``top`` most common actual variants."""
    total = len(per)
    happy = " > ".join(happy_path(config))
    last = {t.name for t in config.touchpoints if t.stage == config.stages[-1].name}
    grouped = per.groupby("variant", sort=False).agg(customers=("customer", "size"), conversion=("converted", "mean"),
                                                      fitness=("fitness", "first")).reset_index()
    grouped = grouped.sort_values(["customers", "variant"], ascending=[False, True], kind="stable").head(top)
    hp = per[(per["fitness"] == 1.0) & per["variant"].map(lambda v: bool(last & set(v.split(" > "))))]
    rows = [{"rank": 0, "path": happy, "designed": True, "customers": len(hp),
             "share": len(hp) / total if total else None,
             "conversion": float(hp["converted"].mean()) if len(hp) else None, "fitness": 1.0}]
    for k, r in enumerate(grouped.itertuples(index=False), start=1):
        rows.append({"rank": k, "path": r.variant, "designed": r.variant == happy, "customers": int(r.customers),
                     "share": r.customers / total, "conversion": float(r.conversion), "fitness": float(r.fitness)})
    return pd.DataFrame(rows)


#: the name the members of a fitness segment are shown to SQL under while it is saved (the query below reads it)
_MEMBERS = "_fitness_members"
_FITNESS_RULE = re.compile(r"^\s*fitness\s*(<=|>=|<|>|=|!=)\s*([0-9]*\.?[0-9]+)\s*$")


def fitness_members(store: Store, where: str, *, filter: Filter | None = None) -> list[str]:
    """The customers whose fitness satisfies ``where`` (``fitness < 0.8``, ``fitness = 1``...)."""
    m = _FITNESS_RULE.match(where)
    if not m:
        raise ParcoursError(f"`where` {where!r}: expected `fitness OP NUMBER` with OP one of < <= > >= = != "
                            "(for example: fitness < 0.8)")
    op, value = m.group(1), float(m.group(2))
    per = conformance_customers(store, filter=filter).dropna(subset=["fitness"])
    f = per["fitness"]
    keep = {"<": f < value, "<=": f <= value, ">": f > value, ">=": f >= value, "=": f == value, "!=": f != value}[op]
    return per.loc[keep, "customer"].tolist()


def save_fitness_segment(store: Store, name: str, where: str, *, filter: Filter | None = None,
                         replace: bool = False) -> int:
    """Save the customers whose fitness satisfies ``where`` as a list segment ``name``: every
    analysis then filters to them with ``segment=name`` (``--segment``). Returns the member count."""
    from parcours.analytics.segments.segments import save_list_segment

    members = fitness_members(store, where, filter=filter)
    # the members reach SQL as a table, not as a list of constants (there may be many thousands)
    store.register(_MEMBERS, pa.table({"customer_id": pa.array(members, pa.string())}))
    try:
        save_list_segment(store, name, sql("SELECT customer_id FROM _fitness_members"),
                          description=f"conformance: {where.strip()}", replace=replace)
    finally:
        store.unregister(_MEMBERS)
    return len(members)
