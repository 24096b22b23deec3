"""One customer, seen whole: identities, stages reached, and the timeline of touchpoints."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from parcours.errors import ParcoursError
from parcours.journey.materialized import journey_source
from parcours.query import sql
from parcours.query.journey import event_order
from parcours.store.store import Store


@dataclass
class CustomerProfile:
    customer_id: str
    identities: pd.DataFrame  #: identifier, kind, first_seen
    first_seen: object
    last_seen: object
    furthest_stage: str | None
    current_stage: str | None
    timeline: pd.DataFrame  #: timestamp, event, touchpoint, stage, channel, properties

    def summary(self) -> dict:
        return {
            "customer": self.customer_id,
            "identities": self.identities["identifier"].tolist(),
            "first_seen": pd.Timestamp(self.first_seen).isoformat() if self.first_seen is not None else None,
            "last_seen": pd.Timestamp(self.last_seen).isoformat() if self.last_seen is not None else None,
            "furthest_stage": self.furthest_stage,
            "current_stage": self.current_stage,
            "events": len(self.timeline),
        }


def resolve_customer(store: Store, any_id: str) -> str:
    """The canonical customer id for any identifier (user, anonymous, trait value, or the id itself)."""
    row = store.execute(
        "SELECT customer_id FROM identity_map WHERE identifier = ? OR identifier = lower(?) LIMIT 1", [any_id, any_id]
    ).fetchone()
    if row is not None:
        return row[0]
    # a bare trait value: ann@example.com finds email:ann@example.com
    found = [r[0] for r in store.execute(
        "SELECT DISTINCT customer_id FROM identity_map WHERE ends_with(identifier, ':' || lower(trim(?))) "
        "ORDER BY 1 LIMIT 3", [any_id]
    ).fetchall()]
    if not found:
        raise ParcoursError(f"customer {any_id!r}: no customer has this identifier")
    if len(found) > 1:
        raise ParcoursError(
            f"customer {any_id!r}: several customers have this value ({', '.join(found)}, ...): "
            "give it with its kind, e.g. email:VALUE"
        )
    return found[0]


def customer_profile(store: Store, any_id: str) -> CustomerProfile:
    customer_id = resolve_customer(store, any_id)
    identities = store.execute(
        """
        SELECT n.identifier, n.kind, n.first_seen FROM identity_map m
        JOIN identity_nodes n USING (identifier) WHERE m.customer_id = ? ORDER BY n.first_seen, n.identifier
        """,
        [customer_id],
    ).df()
    timeline = store.engine.df(sql(
        """
        SELECT timestamp, event, touchpoint, stage, stage_index, channel, utm_campaign, properties, message_id
        FROM {journey} WHERE customer_id = {customer} ORDER BY {order}
        """,
        journey=journey_source(store), customer=customer_id, order=event_order(),
    ))
    staged = timeline.dropna(subset=["stage_index"])
    stages = [s.name for s in store.config.stages]
    furthest = stages[int(staged["stage_index"].max())] if len(staged) else None
    current = staged["stage"].iloc[-1] if len(staged) else None
    return CustomerProfile(
        customer_id=customer_id,
        identities=identities,
        first_seen=timeline["timestamp"].min() if len(timeline) else None,
        last_seen=timeline["timestamp"].max() if len(timeline) else None,
        furthest_stage=furthest,
        current_stage=current,
        timeline=timeline.drop(columns=["stage_index"]),
    )
