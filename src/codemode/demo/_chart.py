"""A bar chart as PNG bytes, drawn with the standard library only (zlib and struct).

The image is an 8-bit RGB PNG with one IHDR, one IDAT and one IEND chunk. There is no text:
the chart is a picture of the shape of the numbers, and the tool that returns it also has a
structured twin (`sales_summary`) for the values. The same values always give the same
bytes, since nothing here depends on time, locale or platform.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

__all__ = ["bar_chart_png"]

WIDTH = 320
HEIGHT = 160
MARGIN = 12
"""Blank border around the plot, in pixels."""

Colour = tuple[int, int, int]
BACKGROUND: Colour = (255, 255, 255)
GRID: Colour = (226, 228, 232)
AXIS: Colour = (120, 124, 132)
PALETTE: tuple[Colour, ...] = ((46, 111, 149), (222, 132, 52), (84, 160, 92), (176, 84, 120))

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Canvas:
    """An RGB pixel buffer, one bytearray per row."""

    def __init__(self, width: int, height: int, fill: Colour) -> None:
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(fill) * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        """Fill the pixels with x0 <= x < x1 and y0 <= y < y1, clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1:
            return
        span = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            self.rows[y][3 * x0 : 3 * x1] = span

    def png(self) -> bytes:
        """Encode the canvas: filter type 0 (None) on every scanline, zlib level 9."""
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def bar_chart_png(values: Sequence[float], width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """Draw one bar per value, left to right, scaled to the largest, and return PNG bytes.

    Args:
        values: The bar heights; negative values draw as empty bars.
        width: Image width in pixels.
        height: Image height in pixels.

    Returns:
        The PNG file's bytes.
    """
    canvas = _Canvas(width, height, BACKGROUND)
    left, right = MARGIN, width - MARGIN
    top, base = MARGIN, height - MARGIN
    for quarter in range(1, 5):
        y = base - (base - top) * quarter // 4
        canvas.rect(left, y, right, y + 1, GRID)
    peak = max((v for v in values if v > 0), default=0.0)
    if values:
        slot = (right - left) / len(values)
        gap = max(1, round(slot * 0.15))
        for index, value in enumerate(values):
            x0 = left + round(index * slot) + gap
            x1 = left + round((index + 1) * slot) - gap
            bar = round((base - top) * value / peak) if peak and value > 0 else 0
            canvas.rect(x0, base - bar, x1, base, PALETTE[index % len(PALETTE)])
    canvas.rect(left, base, right, base + 1, AXIS)
    return canvas.png()
