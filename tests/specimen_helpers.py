"""Specimen images and submissions for the specimen, portal and browser tests: real PNG and JPEG files
drawn with Pillow, and hostile ones (a GIF named .png, a truncated PNG, a decompression bomb, an SVG)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageDraw

from tests.helpers import Province


def seal_png(colour: tuple[int, int, int, int] = (200, 20, 30, 255), size: int = 120, background=(0, 0, 0, 0),
             text: bytes | None = None) -> bytes:
    """A round seal on a transparent background (red by default), optionally with a text chunk."""
    image = Image.new("RGBA", (size, size), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, size - 8, size - 8), outline=colour, width=8)
    draw.ellipse((40, 40, size - 40, size - 40), fill=colour)
    out = io.BytesIO()
    if text:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text.decode())
        image.save(out, format="PNG", pnginfo=info)
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def signature_png(colour: tuple[int, int, int, int] = (20, 40, 200, 255)) -> bytes:
    image = Image.new("RGBA", (200, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line((10, 60, 60, 10, 110, 60, 190, 20), fill=colour, width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (100, 60), (255, 255, 255))
    ImageDraw.Draw(image).line((5, 50, 95, 10), fill=(20, 40, 200), width=5)
    exif = Image.Exif()
    exif[0x010F] = "Camera of Secrets"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def gif_named_png() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20), 1).save(out, format="GIF")
    return out.getvalue()


def truncated_png() -> bytes:
    content = seal_png(size=300)
    return content[: len(content) // 2]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 3900, declared: int = 60000) -> bytes:
    """A small file whose header claims a huge image (60000×60000: 3.6 billion pixels)."""
    header = struct.pack(">IIBBBBB", declared, declared, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    data = zlib.compress(row * 10, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def specimen_form(kind: str, agency: str, fingerprint: str, **fields: str) -> dict[str, str]:
    return {"kind": kind, "agency_code": agency, "certificate": fingerprint, **fields}


async def submit(client, province: Province, username: str, data: dict[str, str], image: bytes,
                 filename: str = "mau.png", content_type: str = "image/png"):
    return await client.post("/api/v1/specimens", data=data, files={"image": (filename, image, content_type)},
                             headers=province.auth(username))


async def published_specimen(client, province: Province, data: dict[str, str], image: bytes) -> dict[str, Any]:
    created = await submit(client, province, "city_clerk", data, image)
    assert created.status_code == 201, created.text
    published = await client.post(f"/api/v1/specimens/{created.json()['id']}/publish", headers=province.auth("operator"))
    assert published.status_code == 200, published.text
    return published.json()
