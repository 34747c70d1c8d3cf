"""Tables as the pages show them and as their CSV and JSON downloads hold them.

A :class:`Table` keeps two views of the same rows: :attr:`Table.rows` of display cells (text
rounded for reading, a full-precision ``data-sort`` key for the sorter) and
:attr:`Table.records` of plain values for the downloads. Both are built together from one
source row, so the downloads agree with what the page shows.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mfbench.html.numbers import MISSING, format_number, is_missing
from mfbench.html.safety import csv_cell, display_text, json_download, plain


@dataclass(frozen=True)
class Cell:
    """One table cell as the page shows it.

    Attributes:
        text: the displayed text (escaped by the template).
        sort: the key the sorter compares: a number's ``repr`` or a text; ``""`` sorts last.
        href: link target; only set by the builder, from a slug path or a checked
            ``http(s)`` URL (see :func:`mfbench.html.safety.http_url`).
        title: tooltip text.
        code: show in a monospace font (hashes, fingerprints).
        external: ``href`` is an absolute ``http(s)`` URL, not a site-relative path.
    """

    text: str
    sort: str = ""
    href: str | None = None
    title: str | None = None
    code: bool = False
    external: bool = False

    @property
    def numeric(self) -> bool:
        """True when the sort key is a number (the cell is right-aligned)."""
        try:
            float(self.sort)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class Table:
    """A table of one page, with its downloads.

    Attributes:
        key: the HTML ``id`` of the table, unique on its page.
        caption: one line above the table.
        headers: column headers, units included.
        rows: display cells, one list per row, ``len(headers)`` each.
        fields: the download columns, in order.
        records: the download rows (plain values, full precision, NaN as None).
        download: site-relative path of the downloads without suffix (``.csv`` and ``.json``
            are added), e.g. ``"tasks/surrogate-r2scan.results"``; None for no download.
        sortable: whether clicking a header sorts the rows.
        note: a sentence under the table.
        css_class: extra class of the ``<table>`` element (``"multiline"`` keeps line breaks).
        sticky: how many leading columns stay in view when the table scrolls sideways on a
            narrow screen: 0, or up to 3 for a ranked table whose columns start with rank,
            method and the ranked metric (the page's CSS sizes those three).
    """

    key: str
    caption: str
    headers: list[str]
    rows: list[list[Cell]]
    fields: list[str]
    records: list[dict[str, Any]]
    download: str | None
    sortable: bool = True
    note: str | None = None
    css_class: str = ""
    sticky: int = 0

    def csv_bytes(self) -> bytes:
        """The records as UTF-8 CSV (newline line ends, NaN and None as empty cells)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.fields)
        for record in self.records:
            writer.writerow([_csv_value(record.get(name)) for name in self.fields])
        return buffer.getvalue().encode("utf-8")

    def json_bytes(self, generator: str, snapshot: str | None = None) -> bytes:
        """The records as JSON: ``{"table", "caption", "columns", "rows", "generator"}``.

        With a ``snapshot`` id, also ``"snapshot"``: the leaderboard snapshot the rows are of.
        """
        payload = {
            "table": self.key,
            "caption": self.caption,
            "columns": self.fields,
            "rows": [{name: record.get(name) for name in self.fields} for record in self.records],
            "generator": generator,
        }
        if snapshot is not None:
            payload["snapshot"] = snapshot
        return json_download(payload)


def _csv_value(value: Any) -> Any:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
        return csv_cell("\n".join(map(str, value)))
    if isinstance(value, dict | list):
        return csv_cell(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return csv_cell(value)


def sort_key(value: Any) -> str:
    """The ``data-sort`` key of a value: ``repr`` of a finite number, the text otherwise."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(float(value)) if math.isfinite(float(value)) else ""
    return str(value)


def value_text(value: Any) -> str:
    """Any record value as text: strings as they are, other values as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(plain(value), sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def text_cell(value: Any, *, href: str | None = None, code: bool = False) -> Cell:
    """A cell showing ``value`` as text (sorted as text), optionally a site-relative link.

    Control characters are removed from the displayed text (see
    :func:`mfbench.html.safety.display_text`); HTML escaping is the template's.
    """
    if is_missing(value):
        return Cell(text=MISSING, href=href, code=code)
    text = value_text(value)
    return Cell(text=display_text(text), sort=text, href=href, code=code)


def number_cell(value: Any, title: str | None = None) -> Cell:
    """A cell showing a number rounded by :func:`format_number`, sorted by its full value."""
    return Cell(text=format_number(value), sort=sort_key(value), title=title)


def fraction_cell(value: Any) -> Cell:
    """A training fraction as written in task files (``0.05``, ``1``), sorted by value."""
    if is_missing(value):
        return Cell(text=MISSING)
    return Cell(text=f"{float(value):g}", sort=sort_key(float(value)))


def metric_cell(mean: Any, low: Any, high: Any, std: Any, n_seeds: int) -> Cell:
    """``mean (low–high)``: the mean over seeds and its 95 % Student-t interval.

    The interval is shown only with two or more seeds and finite, distinct ends: one seed shows
    the value alone (it has no interval), and seeds that all gave the same value show it alone
    too (never ``x (x–x)``). The tooltip states the number of seeds and, with two or more, the
    interval and the standard deviation; the sort key is the mean.
    """
    if is_missing(mean):
        return Cell(text=MISSING)
    text = format_number(mean)
    has_interval = n_seeds >= 2 and not (is_missing(low) or is_missing(high))
    if has_interval and low != high:
        text += f" ({format_number(low)}–{format_number(high)})"
    seeds = f"{n_seeds} seed" + ("" if n_seeds == 1 else "s")
    title = f"mean of {seeds}"
    if n_seeds < 2:
        title += "; no interval with one seed"
    elif has_interval and low == high:
        title += "; every seed gave the same value"
    elif has_interval:
        title += (
            f"; 95 % t-interval of the mean {format_number(low)}–{format_number(high)}"
            f"; standard deviation {format_number(std)}"
        )
    return Cell(text=text, sort=sort_key(mean), title=title)


def share_cell(value: Any) -> Cell:
    """A share in [0, 1] as a percentage (``"97 %"``), sorted by its value."""
    if is_missing(value):
        return Cell(text=MISSING)
    return Cell(text=f"{100 * float(value):.0f} %", sort=sort_key(value))


#: Download columns added to every row of a table that shows a task's numbers.
CITABILITY_FIELDS = ("citable", "notice")


def with_citability(table: Table, notices: Sequence[str | None]) -> Table:
    """``table`` with the columns ``citable`` and ``notice`` in its downloads, row by row.

    Args:
        table: a table whose rows show numbers of some task(s).
        notices: one per record: None where the row's task has citable labels, else the
            notice saying why not (e.g. labels made by models, not the target method).

    Returns:
        A copy whose ``fields`` end with :data:`CITABILITY_FIELDS`: ``citable`` is True or
        False, ``notice`` the text (empty for a citable row). The displayed cells are unchanged.
    """
    if len(notices) != len(table.records):
        raise ValueError(f"{len(notices)} notices for {len(table.records)} rows of {table.key}")
    fields = [f for f in table.fields if f not in CITABILITY_FIELDS]
    records = [
        {**record, "citable": notice is None, "notice": notice or ""}
        for record, notice in zip(table.records, notices, strict=True)
    ]
    return replace(table, fields=[*fields, *CITABILITY_FIELDS], records=records)


#: Download column naming the leaderboard snapshot a row belongs to.
SNAPSHOT_FIELD = "snapshot"


def with_snapshot(table: Table, snapshot: str) -> Table:
    """``table`` with a ``snapshot`` column in its downloads: the same id on every row.

    A column rather than a comment line or a sidecar: the CSV stays plain (one header row,
    every reader takes it as it is) and a row copied out of it, or several downloads
    concatenated, still says which snapshot each number belongs to. The column comes before
    the :data:`CITABILITY_FIELDS`, which stay last. The displayed cells are unchanged.
    """
    fields = [f for f in table.fields if f != SNAPSHOT_FIELD]
    tail = [f for f in fields if f in CITABILITY_FIELDS]
    head = [f for f in fields if f not in CITABILITY_FIELDS]
    records = [{**record, SNAPSHOT_FIELD: snapshot} for record in table.records]
    return replace(table, fields=[*head, SNAPSHOT_FIELD, *tail], records=records)


def key_value_table(
    key: str,
    caption: str,
    items: Sequence[tuple[str, Any]],
    download: str | None,
    *,
    code_keys: frozenset[str] = frozenset(),
) -> Table:
    """A two-column, unsorted table of named values (strings shown as they are)."""
    rows = [[text_cell(name), text_cell(value, code=name in code_keys)] for name, value in items]
    records = [{"field": name, "value": value} for name, value in items]
    return Table(
        key=key,
        caption=caption,
        headers=["field", "value"],
        rows=rows,
        fields=["field", "value"],
        records=records,
        download=download,
        sortable=False,
    )


def record_value(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` (``("task", "budget", "epochs")``) of a record, or None."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def count_table(
    key: str,
    caption: str,
    download: str,
    records: list[dict[str, Any]],
    columns: list[tuple[str, tuple[str, ...]]],
    code: set[str] | frozenset[str] = frozenset(),
) -> Table:
    """Distinct combinations of record fields, with how many records hold each."""
    counts: Counter[tuple[str, ...]] = Counter(
        tuple(json.dumps(record_value(r, path), sort_keys=True) for _, path in columns)
        for r in records
    )
    rows, out = [], []
    for combo in sorted(counts, key=lambda c: [_json_sort(v) for v in c]):
        values = [json.loads(v) for v in combo]
        rows.append(
            [
                number_cell(v)
                if isinstance(v, int) and not isinstance(v, bool)
                else text_cell(v, code=name in code)
                for (name, _), v in zip(columns, values, strict=True)
            ]
            + [number_cell(counts[combo])]
        )
        out.append(
            {
                **{name: v for (name, _), v in zip(columns, values, strict=True)},
                "records": counts[combo],
            }
        )
    names = [name for name, _ in columns]
    return Table(
        key=key,
        caption=caption,
        headers=[*names, "records"],
        rows=rows,
        fields=[*names, "records"],
        records=out,
        download=download,
    )


def _json_sort(text: str) -> tuple[int, float, str]:
    value = json.loads(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, text)
