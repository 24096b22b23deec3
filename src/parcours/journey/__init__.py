"""The journey relation's stored forms: the materialized table, step sequences, live state, person and
group columns, customer profiles. The relation itself is a query (``parcours.query.journey``)."""
