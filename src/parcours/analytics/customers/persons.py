"""Persons and groups as tables: each customer's latest person properties, each group's.

The same derivations the ``person.NAME`` / ``group.TYPE.NAME`` fields of every analysis
read (``parcours.journey.entities``), for a look at them directly.
"""

from __future__ import annotations

import pandas as pd

from parcours.errors import ParcoursError
from parcours.journey.entities import group_properties_query, group_types_query, persons_query
from parcours.query import sql


def persons(store, properties: list[str]) -> pd.DataFrame:
    """``customer_id`` and the latest value of each person property named (NULL if never set)."""
    if not properties:
        raise ParcoursError("persons: name at least one person property")
    df = store.engine.df(sql("SELECT * FROM {persons} ORDER BY customer_id", persons=persons_query(list(properties))))
    return df.rename(columns={f"person.{p}": p for p in properties})


def groups(store, group_type: str, properties: list[str]) -> pd.DataFrame:
    """``group_key`` and the latest value of each property named, for the groups of one type."""
    if not properties:
        raise ParcoursError("groups: name at least one group property")
    df = store.engine.df(sql("SELECT * FROM {groups} ORDER BY group_key",
                             groups=group_properties_query(group_type, list(properties))))
    return df.rename(columns={f"group.{group_type}.{p}": p for p in properties})


def group_types(store) -> list[str]:
    """The group types customers belong to (``company``, ``team`` ...), for choosing whose journeys to read."""
    types = store.engine.df(sql("SELECT group_type FROM {types} ORDER BY group_type", types=group_types_query()))
    return types["group_type"].tolist()
