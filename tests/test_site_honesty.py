"""Units of an honest site: citability notices, per-method styles, tick labels, badges, cells.

The site-level checks (banners on every page, CSV columns, per-fraction tables, no power law
through two fractions, the phone layout) run on a built site in ``test_leaderboard.py``.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from mfbench.html.svg import badge
from mfbench.leaderboard.plots import (
    BASELINE_STYLES,
    COLORS,
    MARKER_CODES,
    log_ticks,
    method_style,
    tick_label,
)
from mfbench.leaderboard.tables import Table, metric_cell, text_cell, with_citability
from mfbench.tasks.citability import NOT_CITABLE_NOTICE, citability_notice
from mfbench.tasks.definition import get_task

# ----------------------------------------------------------------------------- citability


def test_model_labelled_tasks_get_the_notice_and_dft_tasks_none() -> None:
    assert citability_notice("mp-r2scan", get_task("mp-r2scan")) is None
    notice = citability_notice("surrogate-r2scan", get_task("surrogate-r2scan"))
    assert notice == f"{NOT_CITABLE_NOTICE} (task surrogate-r2scan)."
    assert NOT_CITABLE_NOTICE == "Labels from models, not r²SCAN: do not cite as r²SCAN results"
    unknown = citability_notice("lost", None)
    assert unknown is not None and "unknown" in unknown and "do not cite" in unknown


def _table() -> Table:
    return Table(
        key="t",
        caption="c",
        headers=["Task", "Value"],
        rows=[[text_cell("a"), text_cell(1)], [text_cell("b"), text_cell(2)]],
        fields=["task", "value"],
        records=[{"task": "a", "value": 1.5}, {"task": "b", "value": math.nan}],
        download="t",
    )


def test_with_citability_adds_two_columns_that_pandas_reads_without_options() -> None:
    notice = f"{NOT_CITABLE_NOTICE} (task b)."
    marked = with_citability(_table(), [None, notice])
    frame = pd.read_csv(io.BytesIO(marked.csv_bytes()))
    assert list(frame.columns) == ["task", "value", "citable", "notice"]
    assert frame["citable"].tolist() == [True, False]  # parsed as booleans
    assert frame["notice"].isna().tolist() == [True, False] and frame["notice"][1] == notice
    assert marked.rows == _table().rows  # the page shows the banner, not a column
    assert with_citability(marked, [notice, notice]).fields == marked.fields  # no repeat
    with pytest.raises(ValueError, match="1 notices for 2 rows"):
        with_citability(_table(), [None])


def test_a_badge_of_a_model_labelled_task_says_not_citable() -> None:
    plain = badge("mfbench t", "E MAE 12 meV/atom", "t: m")
    marked = badge("mfbench t", "E MAE 12 meV/atom", "t: m", citable=False)
    text = "".join(ET.fromstring(marked).itertext())
    assert "E MAE 12 meV/atom · not citable" in text and "Not citable" in text
    assert "not citable" not in "".join(ET.fromstring(plain).itertext())


# ----------------------------------------------------------------------------- cells


def test_one_seed_shows_no_interval_and_equal_ends_show_none_either() -> None:
    one = metric_cell(10.0, math.nan, math.nan, math.nan, 1)
    assert one.text == "10.0" and "no interval with one seed" in one.title
    same = metric_cell(10.0, 10.0, 10.0, 0.0, 3)
    assert same.text == "10.0" and "same value" in same.title
    three = metric_cell(10.0, 8.0, 12.0, 1.0, 3)
    assert three.text == "10.0 (8.00–12.0)" and "t-interval" in three.title


# ----------------------------------------------------------------------------- styles


def test_method_style_depends_on_the_name_alone() -> None:
    assert method_style("scratch") == BASELINE_STYLES["scratch"] == ("#d62728", "cross")
    assert len(set(BASELINE_STYLES.values())) == len(BASELINE_STYLES)  # no two look alike
    # any other name: sha256 of the name, not Python's salted hash() or the page's order
    digest = int.from_bytes(hashlib.sha256(b"my-method").digest()[:8], "big")
    markers = list(MARKER_CODES)
    expected = (COLORS[digest % 10], markers[(digest // 10) % len(markers)])
    assert method_style("my-method") == expected
    for name in ("my-method", "x", "<script>", "gga-floor"):
        color, marker = method_style(name)
        assert re.fullmatch(r"#[0-9a-f]{6}", color) and marker in MARKER_CODES


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (40, 2000, ["50", "100", "200", "500", "1,000", "2,000"]),
        (1, 1e6, ["1", "10", "100", "1,000", "10,000", "100,000", "1,000,000"]),
        (80, 170, ["80", "90", "100", "150"]),
        (0.01, 0.5, ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]),
        (20.5, 23, ["21", "22", "23"]),
    ],
)
def test_log_ticks_are_few_plain_numbers(low: float, high: float, expected: list[str]) -> None:
    ticks = log_ticks(low, high)
    assert [tick_label(t) for t in ticks] == expected
    assert all(low <= t <= high for t in ticks) and 2 <= len(ticks) <= 7


def test_many_decades_are_thinned() -> None:
    ticks = log_ticks(3, 1e12)
    assert len(ticks) <= 7 and ticks[0] == 10 and ticks[1] == 1000
