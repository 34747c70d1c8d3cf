"""Handling untrusted strings: file names, links, display text and downloads.

Every string in a result record (method names, hyperparameters, environment fields) may have
been written by anyone. The site escapes them in HTML (Jinja2 autoescape) and in SVG (by
matplotlib or :func:`xml_text`); this module adds what escaping cannot give:

- :func:`slug`: a file name made from a name, never a path (``"../../x"`` stays in its folder);
- :func:`site_path`: the only way the builder turns a relative name into a path under the site;
- :func:`http_url`: a link target only for ``http``/``https`` URLs (``javascript:`` stays text);
- :func:`display_text`: control characters removed and very long names shortened;
- :func:`json_download` and :func:`csv_cell`: downloads that stay inert when opened by a
  browser (``<`` escaped in JSON) or a spreadsheet (no formula injection in CSV).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

#: Characters kept in a slug; everything else becomes ``-``.
_SLUG_UNSAFE = re.compile(r"[^a-z0-9._-]+")
#: Longest slug stem before the hash suffix.
_SLUG_MAX = 60
#: Hex digits of the sha256 suffix that keeps altered slugs apart.
_SLUG_HASH = 10
#: A link target: http(s), a host, and no whitespace, quotes or angle brackets anywhere.
_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f\"'<>`\\]+", re.IGNORECASE)
#: Format characters that reorder or hide text (bidirectional overrides, isolates, marks).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Longest URL shown as a link.
_URL_MAX = 2000
#: Cell prefixes that a spreadsheet reads as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def slug(name: str) -> str:
    r"""A file-name stem for ``name``: lower-case ``[a-z0-9._-]``, no path, never empty.

    A name that is already such a stem (``"finetune-refit-atomref"``) is kept as is. Any other
    name is reduced to its safe characters and gets a suffix of its sha256, so two names that
    reduce to the same characters (``"A b"``, ``"a-b"``) still get different slugs and case-
    insensitive file systems see no clash.

    Args:
        name: any string, e.g. a method name from an untrusted record.

    Returns:
        A stem without ``/``, ``\\`` or a leading ``.``, at most 71 characters.
    """
    text = str(name)
    stem = _SLUG_UNSAFE.sub("-", text.lower()).strip(".-")[:_SLUG_MAX].strip(".-")
    if stem and stem == text:
        return stem
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_SLUG_HASH]
    return f"{stem}-{digest}" if stem else digest


def site_path(root: Path, relative: str) -> Path:
    """``root / relative``, refused unless it lies inside ``root``.

    Args:
        root: the site folder.
        relative: a ``/``-separated path made by the builder from slugs.

    Returns:
        The absolute path.

    Raises:
        ValueError: ``relative`` is absolute, has a ``..`` part or resolves outside ``root``
            (e.g. through a symbolic link already in the site folder).
    """
    parts = relative.split("/")
    if relative.startswith("/") or any(p in {"", ".", ".."} or "\\" in p for p in parts):
        raise ValueError(f"refusing to write {relative!r}: not a plain relative path")
    base = Path(root).resolve()
    path = (base / Path(*parts)).resolve()
    if not path.is_relative_to(base) or path == base:
        raise ValueError(f"refusing to write {relative!r}: it resolves outside {base}")
    return path


def http_url(value: Any) -> str | None:
    """``value`` when it is an ``http``/``https`` URL safe to use as a link target, else None.

    ``javascript:``, ``data:``, relative and protocol-relative URLs, and strings with
    whitespace, control characters, quotes or angle brackets (which browsers may strip or
    reinterpret) are not links; the page shows them as plain text.
    """
    if not isinstance(value, str) or len(value) > _URL_MAX:
        return None
    if not _HTTP_URL.fullmatch(value):
        return None
    host = value.split("://", 1)[1].split("/", 1)[0]
    return value if host and not host.startswith(("@", ":")) else None


def display_text(value: Any, limit: int | None = None) -> str:
    """``value`` as text without control characters, shortened to ``limit`` characters.

    Control characters (Unicode category ``Cc``, e.g. NUL, escape, newline) would be invalid
    in XML or break a line; bidirectional overrides could disguise a name. Each becomes
    ``U+FFFD``; a tab becomes a space.
    The result still needs escaping for HTML or XML.

    Args:
        value: any value; non-strings are converted with ``str``.
        limit: longest result in characters, the last one then being ``…`` (None: no limit).
    """
    text = "".join(
        "\ufffd" if (unicodedata.category(ch) == "Cc" and ch != "\t") or ch in _BIDI else ch
        for ch in str(value)
    ).replace("\t", " ")
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def xml_text(value: Any, limit: int | None = None) -> str:
    """``value`` as escaped XML character data, safe in element content and quoted attributes."""
    text = display_text(value, limit)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def plain(value: Any) -> Any:
    """``value`` with NaN and infinities as None and numpy scalars as Python ones (for JSON)."""
    if hasattr(value, "item") and not isinstance(value, list | dict | tuple | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def json_download(payload: Any) -> bytes:
    r"""``payload`` as sorted, indented UTF-8 JSON with ``<``, ``>`` and ``&`` escaped.

    In JSON those characters occur only inside strings, where ``\\u003c`` means the same, so
    the data is unchanged; a browser that sniffs the file as HTML finds no tag in it.
    """
    text = json.dumps(plain(payload), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode("utf-8")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula.

    Strings starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
    ``'`` (the OWASP advice); numbers and other strings are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
