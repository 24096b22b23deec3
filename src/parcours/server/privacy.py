"""What the collector does before anything is written: consent and IP addresses.

Raw IP addresses never reach the write-ahead log or the store. ``truncate`` (the
default) keeps the network part (IPv4 /24, IPv6 /48), enough for rough geography;
``hash`` replaces the address with a keyed hash (HMAC-SHA256 with a secret kept in
the store), so visits from one address can be linked without the address itself;
``drop`` removes it. An event whose consent flag is false is not stored at all.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

IP_MODES = ("truncate", "hash", "drop")


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "denied", "no"))


@dataclass
class PrivacyPolicy:
    ip_mode: str = "truncate"
    secret: bytes = b""

    def refused(self, context: dict, properties: dict | None) -> bool:
        """True when the event says the person did not consent to analytics.

        Recognised: ``context.consent`` false, ``context.consent.analytics`` false,
        ``context.consent.categoryPreferences.analytics`` false (Segment's consent
        object), and ``properties.consent`` false.
        """
        consent = context.get("consent")
        if _false(consent) or (properties and _false(properties.get("consent"))):
            return True
        if isinstance(consent, dict):
            prefs = consent.get("categoryPreferences")
            if _false(consent.get("analytics")) or (isinstance(prefs, dict) and _false(prefs.get("analytics"))):
                return True
        return False

    def ip(self, raw: str) -> str | None:
        return _safe_ip(self.ip_mode, self.secret, raw)

    def scrub_context(self, context: dict, client_ip: str | None) -> dict:
        """The context with its IP (the client's own, as Segment records it) made safe."""
        context = dict(context)
        raw = context.pop("ip", None)
        raw = raw if isinstance(raw, str) else client_ip
        safe = self.ip(raw) if raw else None
        if safe:
            context["ip"] = safe
        return context


@lru_cache(maxsize=1 << 16)
def _safe_ip(mode: str, secret: bytes, raw: str) -> str | None:
    """The address made safe; cached, as a client sends many events from one address
    (parsing it with ``ipaddress`` was the collector's costliest step per event)."""
    try:
        addr = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None  # not an address: nothing safe to keep
    if mode == "drop":
        return None
    if mode == "hash":
        return "h:" + hmac.new(secret, addr.packed, hashlib.sha256).hexdigest()[:24]
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)
