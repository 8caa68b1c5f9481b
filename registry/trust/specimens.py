"""The specimens published for a certificate, shown beside a verdict (public verify API and page)."""

from __future__ import annotations

from typing import Any


async def published_specimens(fingerprint: str) -> list[dict[str, Any]]:
    """The signature specimens published for the certificate with this SHA-256 fingerprint.

    Empty for now: the specimens domain, built in parallel, supplies this at merge (its service knows what
    was published; this function is the one place the verify API and page ask)."""
    return []
