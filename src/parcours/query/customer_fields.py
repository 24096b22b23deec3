"""Customer-level fields of the shared filter: ``fitness < 0.8``, ``deviation = 'skipped stage'``.

An event field (``channel``, ``props.plan``, ``person.plan``) is read on each event. A
customer-level field is one answer per customer that an analysis computes over the whole
journey (conformance: how closely the customer followed the designed journey). A condition
on one keeps or drops whole customers, as a segment does: ``Filter`` turns it into
``customer_id IN (customers whose ...)``, so every analysis, on either engine, takes it.

The analyses that compute these fields sit above the query layer and build on the filter
(conformance reads the journey through it), so the filter cannot import them: each field
names the module and function that resolve it, which ``parcours.analytics.filters`` imports
on first use. That also keeps Numba (the alignment kernel) out of the CLI's start-up when no
condition needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

NUMERIC_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
#: the complement of each comparison, for a split into the customers who meet it and the others
COMPLEMENT = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}
SYMBOL = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass(frozen=True)
class CustomerField:
    """A field with one answer per customer, and where its resolver lives."""

    name: str
    #: ``module:function``; ``function(store, condition)`` returns the query of the ``customer_id``s
    #: whose value meets the condition (customers without a value meet no condition)
    resolver: str
    ops: tuple[str, ...]
    numeric: bool  #: compared with a number (else with a text value)
    help: str


CUSTOMER_FIELDS: dict[str, CustomerField] = {f.name: f for f in (
    CustomerField("fitness", "parcours.analytics.conformance.customers:condition_customers_sql", NUMERIC_OPS, True,
                  "alignment fitness to the designed journey, 0..1 (parcours conformance)"),
    CustomerField("deviation", "parcours.analytics.conformance.customers:condition_customers_sql", ("eq", "ne"), False,
                  "a deviation kind the customer shows (= has it, != does not), e.g. 'skipped stage'"),
)}


class CustomerCondition(BaseModel):
    """``field op value`` on a customer-level field: keeps or drops whole customers."""

    model_config = ConfigDict(extra="forbid")
    field: str
    op: Literal["eq", "ne", "lt", "le", "gt", "ge"] = "eq"
    value: Any = None
    numeric: bool = False

    @field_validator("field")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CUSTOMER_FIELDS:
            raise ValueError(f"unknown customer field {v!r}: use one of {sorted(CUSTOMER_FIELDS)}")
        return v

    @model_validator(mode="after")
    def _fits_the_field(self) -> CustomerCondition:
        spec = CUSTOMER_FIELDS[self.field]
        if self.op not in spec.ops:
            raise ValueError(f"{self.field} takes {' '.join(SYMBOL[o] for o in spec.ops)}, not {SYMBOL[self.op]}")
        if spec.numeric and not self.numeric:
            raise ValueError(f"{self.field} compares with a number, e.g. {self.field} < 0.8 (got {self.value!r})")
        if not spec.numeric and self.numeric:
            raise ValueError(f"{self.field} compares with a quoted name, e.g. {self.field} = 'skipped stage'")
        return self

    def text(self) -> str:
        """The condition as ``--where`` writes it."""
        value = f"{self.value:g}" if self.numeric else "'" + str(self.value).replace("'", "''") + "'"
        return f"{self.field} {SYMBOL[self.op]} {value}"

    def complement(self) -> CustomerCondition:
        """The customers (with a value) who do not meet this condition."""
        return self.model_copy(update={"op": COMPLEMENT[self.op]})
