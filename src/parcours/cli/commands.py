"""Every top-level command: the module that registers it and the line ``parcours --help`` shows.

``parcours --help`` lists the commands from here without importing a single command module
(together they pull in pandas, the analytics and the ingest layer: most of a second), and a
command's module is imported only when that command runs or its own help is asked
(``parcours.cli.lazy_group``). A new command is one module with a ``register(app)`` function
and one line here, in the order the listing shows; ``tests/test_cli_startup.py`` checks each
line against the command's real help and every module's ``register`` against this table.
"""

from __future__ import annotations

#: command name -> (module under ``parcours.cli`` whose ``register`` adds it, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("journey_cmds", "Write a journey file from a shipped template, to edit and then `parcours journey set`."),
    "import": ("data_cmds", "Import events from a file. Bad rows are quarantined; re-importing adds nothing."),
    "quarantine": ("quarantine_cmd", "Rows that failed validation, with the file, row number, reason and raw row."),
    "stats": ("data_cmds", "Counts: events, customers, quarantined and unmapped events, events by name."),
    "summary": ("data_cmds", "The journey at a glance: customers per stage, conversion, top touchpoints per stage."),
    "customer": ("data_cmds", "One customer: stitched identities, first/last seen, stages, and the timeline of "
                 "touchpoints."),
    "demo": ("demo_cmd", "Generate realistic multi-channel journeys (the demo business) into the store, then return."),
    "paths": ("paths_cmd", "Which ways customers take: top paths (default), or --dfg, --matrix, --flows, --loops."),
    "attribution": ("attribution_cmd", "Attributed conversions and value per channel, model by model (Markov and "
                    "Shapley exact)."),
    "retention": ("retention_cmd", "Who comes back: one row per (cohort, period) with size, retained and rate."),
    "serve": ("serve_cmd", "Serve the collector API until stopped; GET /health answers 200 when ready."),
    "friction": ("friction_cmd", "Where the journey hurts: touchpoints whose signals stand out, worst first (see "
                 "docs/friction.md)."),
    "stages": ("stages_cmd", "Stage progression: current and furthest stage, conversion, median/p90 time in each "
               "stage."),
    "funnel": ("funnel_cmd", "Where customers drop out: customers per step, conversion, drop-off and time between "
               "steps."),
    "abandonment": ("abandonment_cmd", "Customers who reached a step and not the next: how many, their value, where "
                    "they went, who."),
    "leads": ("leads_cmd", "Train the purchase-intent model, print its hold-out evaluation (stderr), score current "
              "prospects."),
    "personas": ("personas_cmd", "Find behavioural personas and describe each one: size, what sets it apart, "
                 "channels, conversion."),
    "rfm": ("personas_cmd", "RFM scores of buyers: recency, frequency and monetary quintiles (5 = best)."),
    "report": ("report_cmd", "Write the journey map report (stages, touchpoints, scores, emotion curve, friction)."),
    "conformance": ("conformance_cmd", "How closely customers follow the designed journey (alignment fitness, see "
                    "docs/conformance.md)."),
    "opportunities": ("conformance_cmd", "Which axes of improvement come first: stages and touchpoints ranked by "
                      "score (see docs/conformance.md)."),
    "journey": ("journey_cmds", "Show, set and check the store's journey map."),
    "identity": ("identity_cmds", "Identity stitching: merges, unmerge, rebuild."),
    "segment": ("segment_cmd", "Saved segments: named rules over customers, usable with --segment on every "
                "analysis."),
    "keys": ("keys_cmd", "API keys: write keys per source, read keys, admin keys."),
    "gdpr": ("gdpr_cmd", "Erase or export a person; retention; scrub a property."),
    "voc": ("voc_cmd", "Voice of the customer: NPS, CSAT and CES along the journey."),
    "followups": ("followups_cmd", "Close the loop: a follow-up item for every detractor and very low CSAT/CES "
                  "answer."),
}
