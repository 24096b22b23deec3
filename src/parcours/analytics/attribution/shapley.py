"""Shapley-value attribution over the channels a journey touched.

The coalition game is the usual one for attribution (Zhao et al., 2018, "Shapley value methods
for attribution modeling in online advertising"): the worth ``v(S)`` of a set of channels is the
conversions (or value) of the journeys whose channels all lie in ``S``. That game is a sum of
unanimity games, one per journey, and the Shapley value of a unanimity game on ``T`` is
``1/|T|`` to each member of ``T``. So the exact Shapley value is each journey's conversions and
value split equally between the distinct channels it touched, whatever the number of channels:
no enumeration of the ``2^n`` coalitions, no sampling and no channel limit. Order and repeats
do not matter (``a > a > b`` gives ``a`` and ``b`` half each), which is what sets it apart from
the linear model. Channels that only ever appear in non-converting journeys get zero; channels
that play the same part get the same value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parcours.analytics.attribution.paths import PathTable


def shapley(table: PathTable) -> pd.DataFrame:
    """Exact Shapley values: ``channel``, ``conversions``, ``value``."""
    n = len(table.channels)
    pairs = np.sort(table.path_index.astype(np.int64) * n + table.touches)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]  # distinct (path, channel)
    path, channel = pairs // n, pairs % n
    distinct = np.bincount(path, minlength=table.n_paths)
    share = 1.0 / distinct[path]
    return pd.DataFrame({
        "channel": table.channels,
        "conversions": np.bincount(channel, share * table.conversions[path], minlength=n),
        "value": np.bincount(channel, share * table.value[path], minlength=n),
    })
