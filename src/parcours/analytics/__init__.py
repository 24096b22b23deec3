"""The analyses, one sub-package per family: ``funnels``, ``paths``, ``friction``, ``stages``,
``retention``, ``attribution``, ``conformance``, ``segments`` (segments, personas, leads),
``customers`` (the people behind a count, persons and groups) and ``voc`` (voice of the customer).

Each module has one job and its public functions take ``(store, ..., filter=None)`` and return a
DataFrame. ``filters.events`` is the one way they read events; ``names`` checks the names a user
gives; ``journey_map`` assembles the map the dashboard and the report draw from the families.
"""
