"""The public portal's read path: published specimens and mailboxes, diacritics-blind search, and
what was valid on any past day, kept apart from staff pages so that it can be cached.

Not built yet (ROADMAP.md, items 3 and 7); the package holds the place the layout gives it.
"""
