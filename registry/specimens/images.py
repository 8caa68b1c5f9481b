"""Specimen images: what is accepted, and what is kept.

Only PNG and JPEG, at most 2 MB and 4000×4000 pixels, recognised by their content (never by their name),
decoded by Pillow under its decompression-bomb limit (a warning there is an error here), then re-encoded
as a PNG that carries no metadata (EXIF, text chunks, ICC profiles stay behind). The SHA-256 of the
submitted file is kept, so that the original can always be matched. Decree 30/2020 wants the seal red and
a handwritten signature blue on a transparent background: other colours give warnings, not refusals."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

from registry.errors import Invalid, TooLarge

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
# Pillow's own guard against decompression bombs, kept at most at its default.
MAX_PIXELS = min(Image.MAX_IMAGE_PIXELS or 89_478_485, 89_478_485)
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class CheckedImage:
    png: bytes
    original_sha256: str
    png_sha256: str
    width: int
    height: int
    warnings: tuple[str, ...]


def _refuse(message: str, code: str, params: dict | None = None) -> Invalid:
    return Invalid(f"image: {message}", code=code, fields={"image": message}, params=params)


def check_image(content: bytes, kind: str) -> CheckedImage:
    """The image as the registry keeps it, or Invalid/TooLarge naming the field `image`."""
    if not content:
        raise _refuse("is required", "image_missing")
    if len(content) > MAX_BYTES:
        raise TooLarge("image: larger than 2 MB", code="image_too_large", fields={"image": "larger than 2 MB"})
    if not (content.startswith(PNG_MAGIC) or content.startswith(JPEG_MAGIC)):
        raise _refuse("not a PNG or JPEG image (whatever its name says)", "image_format")
    try:
        with warnings.catch_warnings():
            # A DecompressionBombWarning becomes an error: nothing that large is a signature.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            with Image.open(io.BytesIO(content), formats=list(FORMATS)) as probe:
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise _refuse(f"{width}×{height} pixels; at most {MAX_SIDE}×{MAX_SIDE}", "image_too_big",
                                  {"width": width, "height": height})
                if width * height > MAX_PIXELS:
                    raise _refuse("too many pixels", "image_bomb")
                probe.load()
                image = probe.copy()
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("too many pixels (a decompression bomb?)", "image_bomb") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse("damaged or truncated image", "image_corrupt") from None
    if image.mode not in ("RGBA", "RGB", "LA", "L"):
        image = image.convert("RGBA")
    # A fresh image: only the pixels travel, no metadata.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=False)
    png = out.getvalue()
    return CheckedImage(
        png=png, original_sha256=hashlib.sha256(content).hexdigest(), png_sha256=hashlib.sha256(png).hexdigest(),
        width=width, height=height, warnings=tuple(colour_warnings(image, kind)),
    )


def colour_warnings(image: Image.Image, kind: str) -> list[str]:
    """Decree 30/2020: a seal image red, a signature blue, both on a transparent background."""
    found = []
    rgba = image.convert("RGBA")
    rgba.thumbnail((200, 200))
    pixels = list(rgba.get_flattened_data() if hasattr(rgba, "get_flattened_data") else rgba.getdata())
    transparent = sum(1 for p in pixels if p[3] < 16)
    if transparent < len(pixels) * 0.05:
        found.append("Nền ảnh không trong suốt (Nghị định 30/2020 yêu cầu ảnh PNG nền trong suốt).")
    # The ink: opaque pixels that are not near white.
    ink = [p for p in pixels if p[3] >= 128 and min(p[:3]) < 200]
    if ink:
        red = sum(1 for r, g, b, _a in ink if r > 120 and r > g * 1.6 and r > b * 1.6)
        blue = sum(1 for r, g, b, _a in ink if b > 100 and b > r * 1.3 and b >= g)
        if kind == "org" and red < len(ink) * 0.5:
            found.append("Hình con dấu không có màu đỏ (Nghị định 30/2020).")
        if kind == "leader" and blue < len(ink) * 0.5:
            found.append("Chữ ký không có màu xanh (Nghị định 30/2020).")
    return found
