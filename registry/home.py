"""The home page: search for everyone, and for signed-in users what their roles let them do. It is the
public portal's (registry.publish.pages.home); this module keeps its historical name."""

from __future__ import annotations

from registry.agencies import service as agencies
from registry.publish.pages import home

__all__ = ["agencies", "home"]
