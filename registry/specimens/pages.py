"""HTML for staff: submitting specimens and mailboxes, DoIT's review list."""

from __future__ import annotations

from litestar import Controller


class SpecimenPages(Controller):
    include_in_schema = False
