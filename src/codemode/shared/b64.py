"""Sizes of base64 text, for images and audio that travel as base64 and are shown by size.

Imported by the worker: standard library only (nothing, in fact).
"""

from __future__ import annotations


def decoded_size(text: str) -> int:
    """How many bytes base64 `text` decodes to: 3 per 4 characters, less its `=` padding."""
    return len(text) * 3 // 4 - text[-2:].count("=")
