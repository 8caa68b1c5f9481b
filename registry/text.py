"""Text helpers for Vietnamese: diacritics-blind search keys."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics (đ → d) and collapse spaces: 'Sở Tài chính' → 'so tai chinh'."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().lower()


def normalize(text: str) -> str:
    """NFC form with collapsed spaces: how names are stored."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def search_words(query: str | None, *, max_length: int = 200, field: str = "q") -> list[str]:
    """The folded words of a search box, to match search keys. A query that folds to nothing (blank,
    or only combining marks such as a lone U+0301) has no words: callers then filter on nothing.
    Too long, or holding control characters: Invalid naming `field`."""
    from registry import validation

    if query is None:
        return []
    if not isinstance(query, str):
        raise validation.Invalid("must be text", fields={field: "must be text"}, code="not_text")
    validation.check_characters(query, field)
    if len(query) > max_length:
        raise validation.Invalid(f"{field}: at most {max_length} characters", fields={field: f"at most {max_length} characters"},
                                 code="text_too_long", params={"max_length": max_length})
    # LIKE wildcards typed by a person are letters to search for, not patterns.
    return [word for word in fold(query).replace("%", " ").replace("_", " ").split() if word]
