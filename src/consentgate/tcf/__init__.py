"""IAB TCF v2.3 support: the TC string codec, the Global Vendor List and the CMP API."""

from __future__ import annotations

from .codec import PublisherRestriction, PublisherTC, TCModel, decode, encode

__all__ = ["PublisherRestriction", "PublisherTC", "TCModel", "decode", "encode"]
