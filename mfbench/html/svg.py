"""SVG made safe to inline in a page, and README badges.

Matplotlib escapes the text it writes into SVG; :func:`inline_svg` does not rely on that alone.
It parses the SVG, refuses any element or attribute outside a small allow-list (no
``<script>``, no ``on*`` handler, no link other than ``#id``), drops comments and metadata,
prefixes every ``id`` so that several plots can share one page, turns ``xlink:href`` into
SVG 2's plain ``href``, and serialises the tree again (which escapes every text node and
attribute value).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mfbench.html.safety import display_text, xml_text

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
#: Elements matplotlib writes for line plots with text as text (``svg.fonttype = "none"``).
_ALLOWED_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "style",
        "path",
        "use",
        "clipPath",
        "rect",
        "text",
        "tspan",
        "title",
        "desc",
        "line",
        "polyline",
        "polygon",
        "circle",
        "ellipse",
    }
)
#: Elements removed with their content.
_DROPPED_ELEMENTS = frozenset({"metadata"})
_URL_REF = re.compile(r"url\(#([^)\s]+)\)")
_CSS_FORBIDDEN = re.compile(r"@import|url\((?!#)|expression\(|javascript:", re.IGNORECASE)


class UnsafeSvgError(ValueError):
    """An SVG holds an element, attribute or reference the site does not inline."""


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def inline_svg(text: str, prefix: str) -> str:
    """An SVG document as a checked ``<svg>`` element to paste into HTML.

    Args:
        text: an SVG document (an XML declaration and doctype are allowed).
        prefix: prepended to every ``id`` and to every ``url(#id)`` / ``href="#id"``
            reference; must be unique on the page (``[A-Za-z][A-Za-z0-9-]*``).

    Returns:
        The ``<svg>`` element without declaration, doctype, comments or metadata.

    Raises:
        UnsafeSvgError: an element outside the allow-list, an event-handler attribute, a link
            to anything but an ``#id`` in the same SVG, or CSS that can load or run something.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", prefix):
        raise ValueError(f"prefix {prefix!r} must be [A-Za-z][A-Za-z0-9-]*")
    root = ET.fromstring(text)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise UnsafeSvgError(f"root element is {root.tag!r}, not an SVG <svg>")
    _drop(root)
    ids = {el.get("id") for el in root.iter() if el.get("id") is not None}
    for element in root.iter():
        _check_and_prefix(element, ids, prefix)
        element.tag = _local(element.tag)
    root.set("xmlns", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def _drop(parent: ET.Element) -> None:
    for child in list(parent):
        if _local(child.tag) in _DROPPED_ELEMENTS:
            parent.remove(child)
        else:
            _drop(child)


def _check_and_prefix(element: ET.Element, ids: set[str | None], prefix: str) -> None:
    name = _local(element.tag)
    if not element.tag.startswith(f"{{{SVG_NS}}}") or name not in _ALLOWED_ELEMENTS:
        raise UnsafeSvgError(f"element <{element.tag}> is not allowed in an inlined SVG")
    if name == "style" and _CSS_FORBIDDEN.search(element.text or ""):
        raise UnsafeSvgError("a <style> element loads or runs something")
    for key, value in list(element.attrib.items()):
        local = _local(key)
        if "}" in key and not key.startswith(f"{{{XLINK_NS}}}"):
            raise UnsafeSvgError(f"attribute {key!r} of a foreign namespace is not allowed")
        if local.lower().startswith("on"):
            raise UnsafeSvgError(f"event-handler attribute {key!r} is not allowed")
        if local == "href":
            if not value.startswith("#") or value[1:] not in ids:
                raise UnsafeSvgError(f"link {value!r} points outside the SVG")
            del element.attrib[key]
            element.set("href", f"#{prefix}-{value[1:]}")
        elif local == "id":
            element.set(key, f"{prefix}-{value}")
        elif _CSS_FORBIDDEN.search(value):
            raise UnsafeSvgError(f"attribute {key}={value!r} loads or runs something")
        elif "url(" in value:
            element.set(key, _URL_REF.sub(lambda m: _prefixed_ref(m, ids, prefix), value))


def _prefixed_ref(match: re.Match[str], ids: set[str | None], prefix: str) -> str:
    if match.group(1) not in ids:
        raise UnsafeSvgError(f"reference {match.group(0)!r} points outside the SVG")
    return f"url(#{prefix}-{match.group(1)})"


#: Approximate advance of Verdana/DejaVu Sans at 11 px, in px per character.
_CHAR_WIDTH = 6.8
_PAD = 6
_BADGE_FONT = "Verdana,Geneva,'DejaVu Sans',sans-serif"


#: Right-hand text added to the badge of a task whose labels are not citable.
NOT_CITABLE = "not citable"
#: Fill of the right part of a badge that is not citable.
NOT_CITABLE_COLOR = "#cf222e"


def badge(
    label: str, message: str, title: str, color: str = "#007ec6", *, citable: bool = True
) -> str:
    """A flat two-part badge, ``label | message``, as a standalone SVG document.

    The text is escaped and stripped of control characters; ``textLength`` makes it fit its
    box whatever font the viewer has.

    Args:
        label: left part, e.g. ``"mfbench"``.
        message: right part, e.g. ``"E MAE 1,077 meV/atom"``.
        title: the tooltip and accessible name (which task, method and fraction).
        color: fill of the right part, a ``#rrggbb`` colour.
        citable: False for a task whose labels come from models: the message then ends with
            ``" · not citable"``, the right part is red (:data:`NOT_CITABLE_COLOR`) and the
            title says the numbers must not be cited as results of the target method.

    Returns:
        The SVG text (UTF-8, no external reference).
    """
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise ValueError(f"color must be #rrggbb, got {color!r}")
    label, message = display_text(label, 80), display_text(message, 80)
    if not citable:
        message, color = f"{message} · {NOT_CITABLE}", NOT_CITABLE_COLOR
        title = f"{title}. Not citable: labels from models, not DFT."
    left = round(len(label) * _CHAR_WIDTH) + 2 * _PAD
    right = round(len(message) * _CHAR_WIDTH) + 2 * _PAD
    width = left + right
    aria = xml_text(f"{label}: {message}")
    return (
        f'<svg xmlns="{SVG_NS}" width="{width}" height="20" role="img" aria-label="{aria}">\n'
        f"<title>{xml_text(title, 300)}</title>\n"
        f'<rect width="{left}" height="20" fill="#555"/>\n'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>\n'
        f'<g fill="#fff" text-anchor="middle" font-family="{_BADGE_FONT}" font-size="11">\n'
        f'<text x="{left / 2:g}" y="14" textLength="{left - 2 * _PAD}" '
        f'lengthAdjust="spacingAndGlyphs">{xml_text(label)}</text>\n'
        f'<text x="{left + right / 2:g}" y="14" textLength="{right - 2 * _PAD}" '
        f'lengthAdjust="spacingAndGlyphs">{xml_text(message)}</text>\n'
        "</g>\n</svg>\n"
    )
