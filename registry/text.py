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
