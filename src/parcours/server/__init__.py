"""The server: a Segment-compatible collector with a durable write-ahead log, API keys,
privacy controls and GDPR tools, as one FastAPI app (``create_app``).

Its names load on first use (PEP 562): every CLI command opens its store through
``parcours.server.recovery``, which must not import FastAPI with this package.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Limits", "create_app"]

#: public name -> the module defining it
_LAZY = {"Limits": "parcours.server.payload", "create_app": "parcours.server.app"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'parcours.server' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
