"""Item text as plain, printable text: what every parser puts into ``items`` text columns.

Source text is untrusted: it may hold markup (Amazon metadata is scraped HTML), entities that decode
*into* markup (``&lt;script&gt;``), control characters (an ANSI escape that ``explain`` would print
raw) or invisible format characters (bidirectional overrides). None of these survive.
"""

from __future__ import annotations

import html
import re
from typing import Any

#: a tag, or a tag cut off at the end of a field (``<span class="a-size-medium"``: how raw titles look)
_TAG = re.compile(r"<[^<>]*(?:>|$)")
_SPACE = re.compile(r"\s+")


def plain_text(value: str) -> str:
    """``value`` without non-printable characters: whitespace other than " " (tabs, line breaks, no-break
    spaces) becomes " ", other control, format, private-use and unassigned characters are removed.
    Printable text is returned unchanged."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else " " if c.isspace() else "" for c in value)


def clean_html(value: Any) -> str:
    """Plain text of an HTML fragment: entities decoded first, then tags removed (until none is left, so
    nested or encoded tags cannot reassemble), then non-printable characters dropped and whitespace
    collapsed. Lists are joined with spaces; anything else that is not a string gives ""."""
    if isinstance(value, list):
        value = " ".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str):
        return ""
    text = html.unescape(value)
    while True:
        stripped = _TAG.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return _SPACE.sub(" ", plain_text(text)).strip()
