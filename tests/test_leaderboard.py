"""The static leaderboard built from real result records, including hostile ones.

Real runs of cheap composition-only methods on ``surrogate-r2scan`` (3 fractions, 2 methods,
seeds 0-1 of the seeded one) are made once for the module. Hostile records are copies of real
runs whose method name or hyperparameters were edited (validation recomputes metrics, not
names, so they stay valid), one copy whose metric was tampered with (rejected) and one that
names chgnet's shipped r2scan checkpoint in its hyperparameters (valid, but non-compliant).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pybtex.database import parse_string

from mfbench.data.checkpoints import identify_checkpoint
from mfbench.html.environment import TEMPLATES, template_text
from mfbench.html.numbers import format_number
from mfbench.html.safety import csv_cell, display_text, http_url, site_path, slug
from mfbench.html.svg import UnsafeSvgError, badge, inline_svg
from mfbench.leaderboard import SiteReport, build_site
from mfbench.leaderboard.build import MANIFEST
from mfbench.leaderboard.citations import submission_bibtex
from mfbench.leaderboard.plots import method_style
from mfbench.results import comparable, records_frame, summarize, validate_records
from mfbench.results.compliance import non_compliance
from mfbench.results.record import params_hash
from mfbench.submissions import pack_submission
from mfbench.tasks.citability import NOT_CITABLE_NOTICE
from mfbench.tasks.definition import get_task

from .doubles import COMPOSITION_ONLY, SEEDED
from .factories import set_record_fields
from .test_submissions import META as SUBMISSION_META

TASK = "surrogate-r2scan"
FRACTIONS = (0.0, 0.1, 1.0)
SEEDS = (0, 1)
XSS_NAME = "<script>alert(1)</script>"
TRAVERSAL_NAME = "../../evil"
TAMPERED_NAME = "tampered-method"
#: The label of the hostile copy that starts from chgnet's shipped r2scan model.
R2SCAN_LABEL = "composition-only [base_model=r2scan]"
#: The hyperparameters of the hostile "variant" copy: another entry of the same name.
VARIANT_PARAMS = {"fallback": -4.0}
VARIANT = params_hash(VARIANT_PARAMS)[:8]
METRICS = {
    "E MAE (meV/atom)": "energy_mae_mev_per_atom",
    "F MAE (meV/Å)": "force_mae_mev_per_a",
    "S MAE (GPa)": "stress_mae_gpa",
    "M MAE (μB)": "magmom_mae_mu_b",
}


# ----------------------------------------------------------------------------- fixtures


RUNS = [
    (TASK, spec, fraction, seed)
    for fraction in FRACTIONS
    for spec, seed in [(COMPOSITION_ONLY, 0), *((SEEDED, seed) for seed in SEEDS)]
]


@pytest.fixture(scope="module")
def runs(module_runs: tuple[Path, Path]) -> tuple[Path, Path]:
    """``(home, out)``: a prepared home and the folders of the nine runs of :data:`RUNS`."""
    return module_runs


#: every test of this module uses the home where :data:`RUNS` ran
pytestmark = pytest.mark.usefixtures("module_home")


def _source_run(out: Path) -> Path:
    """The folder of composition-only's fraction-1 seed-0 run."""
    return out / TASK / "v1" / "composition-only" / "fraction-1" / "seed-0"


def _copy_run(out: Path, dest: Path, edits: dict[str, Any]) -> Path:
    """A copy of composition-only's fraction-1 seed-0 run with record fields overwritten."""
    shutil.copytree(_source_run(out), dest)
    set_record_fields(dest / "result.json", edits)
    return dest / "result.json"


@pytest.fixture(scope="module")
def hostile(runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Edited copies of a real run: two hostile names, one tampered metric, one run with other
    hyperparameters (another entry of the same name), one unedited copy (a repeated run) and
    one that names chgnet's shipped r2scan model as its ``base_model`` (non-compliant)."""
    out, folder = runs[1], tmp_path_factory.mktemp("hostile") / "records"
    params = {
        "fallback": -5.0,
        "homepage": "javascript:alert(1)",
        "preview": "data:text/html,<script>alert(2)</script>",
        "paper": "https://example.org/paper?a=1&b=2",
    }
    _copy_run(
        out,
        folder / "xss",
        {
            "method.name": XSS_NAME,
            "method.params": params,
            "method.params_hash": params_hash(params),
        },
    )
    _copy_run(out, folder / "traversal", {"method.name": TRAVERSAL_NAME})
    _copy_run(
        out,
        folder / "tampered",
        {"method.name": TAMPERED_NAME, "metrics.all.energy_mae_mev_per_atom": 12.5},
    )
    _copy_run(
        out,
        folder / "variant",
        {"method.params": VARIANT_PARAMS, "method.params_hash": params_hash(VARIANT_PARAMS)},
    )
    _copy_run(out, folder / "repeated", {})
    source = json.loads((_source_run(out) / "result.json").read_text())
    r2scan = {**source["method"]["params"], "base_model": "r2scan"}
    _copy_run(
        out,
        folder / "r2scan-start",
        {"method.params": r2scan, "method.params_hash": params_hash(r2scan)},
    )
    return folder


@pytest.fixture(scope="module")
def clean_site(runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> SiteReport:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(runs[0]))
        return build_site([runs[1]], tmp_path_factory.mktemp("clean") / "site")


@pytest.fixture(scope="module")
def hostile_site(
    runs: tuple[Path, Path], hostile: Path, tmp_path_factory: pytest.TempPathFactory
) -> SiteReport:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(runs[0]))
        return build_site([runs[1], hostile], tmp_path_factory.mktemp("hostile-site") / "site")


# ----------------------------------------------------------------------------- HTML reading


class _Page(HTMLParser):
    """Tables (by id: headers and cells with text, data-sort and href), links, scripts, SVGs."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict[str, list]] = {}
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.svg_count = 0
        self.policies: list[str] = []
        self._table: str | None = None
        self._cell: dict[str, Any] | None = None
        self._in_th = False
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.policies.append(a.get("content") or "")
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"] or "")
            if self._cell is not None:
                self._cell["href"] = a["href"]
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = {"headers": [], "rows": []}
        elif tag == "tr" and self._table is not None:
            self.tables[self._table]["rows"].append([])
        elif tag == "th" and self._table is not None:
            self._in_th = True
            self.tables[self._table]["headers"].append("")
        elif tag == "td" and self._table is not None:
            self._cell = {"text": "", "sort": a.get("data-sort"), "href": None}
        elif tag == "script":
            self._in_script = True
            self.scripts.append("")
        elif tag == "svg":
            self.svg_count += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "th":
            self._in_th = False
        elif tag == "td" and self._cell is not None and self._table is not None:
            self._cell["text"] = self._cell["text"].strip()
            self.tables[self._table]["rows"][-1].append(self._cell)
            self._cell = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        elif self._cell is not None:
            self._cell["text"] += data
        elif self._in_th and self._table is not None:
            self.tables[self._table]["headers"][-1] += data.strip()

    def rows(self, table: str) -> list[dict[str, dict[str, Any]]]:
        """The body rows of a table as ``{header: cell}``."""
        found = self.tables[table]
        return [dict(zip(found["headers"], row, strict=True)) for row in found["rows"] if row]


def _page(site: SiteReport, name: str = "index.html") -> _Page:
    return _Page((site.out / name).read_text(encoding="utf-8"))


#: The task's own page, site-relative.
TASK_PAGE = f"tasks/{TASK}.html"


def _fraction_rows(site: SiteReport) -> list[dict[str, dict[str, Any]]]:
    """The rows of every per-fraction table of the task page, each with its ``Fraction``."""
    page = _page(site, TASK_PAGE)
    rows = []
    for key in page.tables:
        if key.startswith(f"{TASK}-fraction-"):
            fraction = key.removeprefix(f"{TASK}-fraction-")
            rows += [
                {**r, "Fraction": {"text": fraction, "sort": fraction}} for r in page.rows(key)
            ]
    return rows


def _summary(out: Path) -> Any:
    """summarize() of the runs under ``out`` (all valid: the clean site accepts them all)."""
    records = [json.loads(p.read_text()) for p in sorted(out.rglob("result.json"))]
    kept, _ = comparable(records_frame(records))
    return summarize(kept, metrics=list(METRICS.values()))


def _site_files(site: SiteReport) -> dict[str, bytes]:
    return {
        p.relative_to(site.out).as_posix(): p.read_bytes()
        for p in sorted(site.out.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- tests


def test_the_fraction_tables_hold_every_entry_and_fraction_with_summarize_means(
    runs: tuple[Path, Path], clean_site: SiteReport
) -> None:
    assert clean_site.n_records == clean_site.n_accepted == clean_site.n_ranked == 9
    assert not clean_site.rejected
    page = _page(clean_site, TASK_PAGE)
    assert [k for k in page.tables if k.startswith(f"{TASK}-fraction-")] == [
        f"{TASK}-fraction-{f:g}" for f in sorted(FRACTIONS, reverse=True)
    ]
    rows = _fraction_rows(clean_site)
    assert sorted((r["Method"]["text"], float(r["Fraction"]["sort"])) for r in rows) == sorted(
        (m, f) for m in ("composition-only", "seeded-composition") for f in FRACTIONS
    )
    summary = _summary(runs[1])
    assert len(summary) == len(rows) == 6
    for row in rows:
        method, fraction = row["Method"]["text"], float(row["Fraction"]["sort"])
        (expected,) = summary[
            (summary["method"] == method) & (summary["fraction"] == fraction)
        ].to_dict("records")
        assert float(row["Seeds"]["sort"]) == expected["n_seeds"]
        assert row["Method"]["href"] == f"../methods/{method}.html"
        for header, column in METRICS.items():
            assert float(row[header]["sort"]) == expected[f"{column}_mean"]
            assert row[header]["text"].startswith(format_number(expected[f"{column}_mean"]))
    # seeded-composition's two seeds differ in energy: its cell shows the interval; the one
    # seed of composition-only has none
    seeded = [r for r in rows if r["Method"]["text"] == "seeded-composition"]
    assert all("(" in r["E MAE (meV/atom)"]["text"] for r in seeded)
    single = [r for r in rows if r["Method"]["text"] == "composition-only"]
    assert all("(" not in r["E MAE (meV/atom)"]["text"] for r in single)
    # within a fraction, ranks follow the energy MAE
    for fraction in FRACTIONS:
        ranked = sorted(
            (float(r["E MAE (meV/atom)"]["sort"]), r["Rank"]["text"])
            for r in rows
            if float(r["Fraction"]["sort"]) == fraction
        )
        assert [rank for _, rank in ranked] == ["1", "2"]


def test_summary_at_the_largest_fraction(clean_site: SiteReport) -> None:
    rows = _page(clean_site).rows(f"{TASK}-summary")
    assert {r["Method"]["text"] for r in rows} == {"composition-only", "seeded-composition"}
    assert {r["Train frames"]["text"] for r in rows} == {"1,516"}
    assert "Ef MAE (meV/atom)" in rows[0] and "Ed MAE (meV/atom)" in rows[0]


def test_downloads_exist_parse_and_agree_with_the_table(
    runs: tuple[Path, Path], clean_site: SiteReport
) -> None:
    page = _page(clean_site, TASK_PAGE)
    assert {f"../tasks/{TASK}.results.csv", f"../tasks/{TASK}.scaling.json"} <= set(page.links)
    assert f"../tasks/{TASK}.fraction-0.1.csv" in page.links
    downloads = [
        (path.parent / link).resolve()
        for path in clean_site.pages
        for link in _Page(path.read_text()).links
        if link.endswith((".csv", ".json")) and not link.endswith("snapshot.json")
    ]
    assert len(downloads) > 20
    for path in downloads:
        assert path.is_file() and path.is_relative_to(clean_site.out.resolve()), path
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text())["rows"], list)
        else:
            assert list(csv.DictReader(path.read_text().splitlines()))

    table = {
        (r["Method"]["text"], float(r["Fraction"]["sort"])): r for r in _fraction_rows(clean_site)
    }
    stem = clean_site.out / "tasks" / f"{TASK}.results"
    from_csv = list(csv.DictReader(Path(f"{stem}.csv").read_text().splitlines()))
    from_json = json.loads(Path(f"{stem}.json").read_text())["rows"]
    summary = _summary(runs[1])
    assert len(from_csv) == len(from_json) == len(table) == 6
    for row_csv, row_json in zip(from_csv, from_json, strict=True):
        key = (row_json["method"], row_json["fraction"])
        assert (row_csv["method"], float(row_csv["fraction"])) == key
        for header, column in METRICS.items():
            shown = float(table[key][header]["sort"])
            assert float(row_csv[f"{column}_mean"]) == row_json[f"{column}_mean"] == shown
        (expected,) = summary[
            (summary["method"] == key[0]) & (summary["fraction"] == key[1])
        ].to_dict("records")
        low, high = (
            row_json["energy_mae_mev_per_atom_ci_low"],
            row_json["energy_mae_mev_per_atom_ci_high"],
        )
        ends = (
            expected["energy_mae_mev_per_atom_ci_low"],
            expected["energy_mae_mev_per_atom_ci_high"],
        )
        if expected["n_seeds"] == 1:  # no interval: empty in the CSV, null in the JSON
            assert all(np.isnan(ends)) and (low, high) == (None, None)
            assert row_csv["energy_mae_mev_per_atom_ci_low"] == ""
        else:
            assert (low, high) == ends and low < high


def test_plots_are_inline_svg_with_no_external_reference(clean_site: SiteReport) -> None:
    text = (clean_site.out / TASK_PAGE).read_text()
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    assert len(svgs) == 2  # energy and force MAE against training frames
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        texts = "".join(root.itertext())
        assert "composition-only" in texts and "training frames" in texts
    assert "energy MAE" in svgs[0] and "force MAE" in svgs[1]
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "ids repeat across the inline plots"
    for path in clean_site.pages:
        page = path.read_text()
        assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
        assert not re.search(r"\b(src|srcset)=", page)
        assert not re.search(r'href="(https?:)?//', page)
        assert "@import" not in page and "url(http" not in page


def test_every_page_allows_only_its_own_script(clean_site: SiteReport) -> None:
    script = template_text("sortable.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    for path in clean_site.pages:
        page = _Page(path.read_text())
        assert page.scripts == [script], path
        (policy,) = page.policies
        assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    names = [p.relative_to(clean_site.out).as_posix() for p in clean_site.pages]
    assert names == [
        "index.html",
        "methods/composition-only.html",
        "methods/seeded-composition.html",
        f"tasks/{TASK}.html",
    ]


def test_task_and_method_pages(clean_site: SiteReport) -> None:
    task = (clean_site.out / "tasks" / f"{TASK}.html").read_text()
    for expected in ("surrogate-aflow", "verified", "First version.", "2026-11-24", "1,516"):
        assert expected in task
    fractions = _Page(task).rows(f"{TASK}-fractions")
    assert [r["train frames"]["text"] for r in fractions] == ["0", "155", "1,516"]
    method = (clean_site.out / "methods" / "seeded-composition.html").read_text()
    for expected in (SEEDED, "fallback", "mfbench contributors"):
        assert expected in method
    assert "0, 1" in method  # seeds
    badge_file = clean_site.out / "badges" / TASK / "seeded-composition.svg"
    root = ET.fromstring(badge_file.read_text())
    assert "E MAE" in "".join(root.itertext()) and "meV/atom" in "".join(root.itertext())
    bib = (clean_site.out / "mfbench.bib").read_text()
    assert "@article{huang2025crossfunctional" in bib and "2504.05565" in bib
    assert "@misc{mfbench" in bib
    assert (clean_site.out / "methods" / "seeded-composition.bib").is_file()


def test_building_twice_gives_identical_bytes(
    runs: tuple[Path, Path], clean_site: SiteReport, tmp_path: Path
) -> None:
    again = build_site([runs[1]], tmp_path / "site")
    assert _site_files(again) == _site_files(clean_site)
    assert (again.out / MANIFEST).is_file()


def test_hostile_records_still_validate(hostile: Path) -> None:
    reports = {r.path.parent.name: r for r in validate_records([hostile])}
    assert reports["xss"].ok and reports["traversal"].ok
    assert not reports["tampered"].ok
    # hyperparameters are not checked against the predictions: the copy that names the
    # r2scan checkpoint is valid, and its params_hash agrees with its params
    assert reports["r2scan-start"].ok, reports["r2scan-start"].problems
    method = reports["r2scan-start"].record["method"]
    assert method["params"]["base_model"] == "r2scan"
    assert method["params_hash"] == params_hash(method["params"])


def test_hostile_names_and_urls_are_inert(hostile_site: SiteReport) -> None:
    assert (hostile_site.n_accepted, hostile_site.n_ranked) == (14, 12)
    assert hostile_site.n_reference == 1
    pages = {
        p.relative_to(hostile_site.out).as_posix(): p.read_text()
        for p in hostile_site.files
        if p.suffix in {".html", ".svg"}
    }
    assert any(p.startswith("badges/") for p in pages)
    for name, text in pages.items():
        assert "<script>alert" not in text, name
        assert not re.search(r"href\s*=\s*[\"']?\s*(javascript|data):", text, re.I), name
        assert text.count("<script") == (1 if name.endswith(".html") else 0), name
    index = pages["index.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    xss_page = next(n for n in pages if n.startswith("methods/script-alert-1-script-"))
    method = _Page(pages[xss_page])
    params = {r["Parameter"]["text"]: r["Value"] for r in method.rows(method_params(method))}
    assert (
        params["homepage"]["href"] is None and params["homepage"]["text"] == "javascript:alert(1)"
    )
    assert params["preview"]["href"] is None
    assert params["paper"]["href"] == "https://example.org/paper?a=1&b=2"
    # the plots carry the name as escaped text, never as markup
    task_page = pages[TASK_PAGE]
    for svg in re.findall(r"<svg\b.*?</svg>", task_page, flags=re.S):
        ET.fromstring(svg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in "".join(
        re.findall(r"<svg\b.*?</svg>", task_page, flags=re.S)
    )
    # downloads keep the name as data; JSON escapes the angle brackets
    results = hostile_site.out / "tasks" / f"{TASK}.results"
    assert XSS_NAME in Path(f"{results}.csv").read_text()
    assert "<" not in Path(f"{results}.json").read_text()
    rows = json.loads(Path(f"{results}.json").read_text())["rows"]
    assert XSS_NAME in {r["method"] for r in rows}


def method_params(page: _Page) -> str:
    return next(key for key in page.tables if key.startswith("params-"))


def test_a_path_in_a_method_name_writes_nothing_outside_the_site(
    hostile_site: SiteReport,
) -> None:
    site = hostile_site.out.resolve()
    assert all(p.resolve().is_relative_to(site) for p in hostile_site.files)
    root = site.parent.parent
    outside = [p for p in root.rglob("*evil*") if not p.resolve().is_relative_to(site)]
    assert outside == []
    inside = [p.relative_to(site).as_posix() for p in site.rglob("*evil*")]
    assert f"methods/evil-{slug(TRAVERSAL_NAME)[-10:]}.html" in inside
    rows = _page(hostile_site).rows(f"{TASK}-summary")
    (row,) = [r for r in rows if r["Method"]["text"] == TRAVERSAL_NAME]
    assert row["Method"]["href"] == f"methods/{slug(TRAVERSAL_NAME)}.html"


def test_a_tampered_record_is_listed_as_rejected_and_not_ranked(
    hostile_site: SiteReport,
) -> None:
    (rejected,) = hostile_site.rejected
    assert rejected.path.parent.name == "tampered"
    page = _page(hostile_site)
    (row,) = page.rows("rejected")
    assert row["Record"]["text"] == "records/tampered/result.json"
    assert "metrics.all.energy_mae_mev_per_atom: stored 12.5" in row["Problems"]["text"]
    assert str(rejected.path.parent.parent) not in row["Problems"]["text"]  # no local folders
    methods = {r["Method"]["text"] for r in page.rows(f"{TASK}-summary")}
    assert TAMPERED_NAME not in methods and XSS_NAME in methods
    assert not (hostile_site.out / "methods" / f"{TAMPERED_NAME}.html").exists()
    rejected_json = json.loads((hostile_site.out / "rejected.json").read_text())
    assert rejected_json["rows"][0]["record"] == "records/tampered/result.json"


def _pack(runs: tuple[Path, Path], where: Path, **changes: Any) -> Path:
    """Pack composition-only's runs as a submission under ``where``."""
    import yaml

    where.mkdir(parents=True)
    meta = where / "meta.yaml"
    meta.write_text(yaml.safe_dump({**SUBMISSION_META, **changes}, sort_keys=False))
    source = runs[1] / TASK / "v1" / "composition-only"
    return pack_submission(meta, [source], where / "submissions")


def test_a_packed_submission_shows_its_metadata(runs: tuple[Path, Path], tmp_path: Path) -> None:
    folder = _pack(runs, tmp_path / "good")
    site = build_site([folder.parent], tmp_path / "site")
    assert not site.rejected and site.n_ranked == len(FRACTIONS)
    method = (site.out / "methods" / "composition-only.html").read_text()
    for expected in (
        "<h2>Submission</h2>",
        "Ada Example (Example University)",
        'href="https://orcid.org/0000-0002-1825-0097"',
        "Bo Example",
        'href="https://doi.org/10.1038/s41524-025-01796-y"',
        'href="https://github.com/example/method"',
        "<code>0123abcd</code>",
        "MIT",
        "r2scan labels of surrogate-aflow, frames train-fraction",
        "none (trained from scratch)",
        "2 CPU cores",
        "<dt>compliance</dt><dd>compliant</dd>",
    ):
        assert expected in method, expected
    bib = parse_string((site.out / "methods" / "composition-only.bib").read_text(), "bibtex")
    assert list(bib.entries) == ["composition-only", "mfbench"]
    entry = bib.entries["composition-only"]
    assert entry.type == "misc"  # no venue given
    assert entry.fields["title"] == "{A paper}"
    assert entry.fields["doi"] == "10.1038/s41524-025-01796-y"
    assert [str(p) for p in entry.persons["author"]] == ["Example, Ada", "Example, Bo"]
    index = (site.out / "index.html").read_text()
    assert '<a href="methods/composition-only.html">composition-only</a>: Ada Example' in index
    ranked = {r["Method"]["text"] for r in _page(site).rows(f"{TASK}-summary")}
    assert ranked == {"composition-only"}
    for page in site.pages:
        assert 'href="javascript:' not in page.read_text().lower()


def test_a_submission_cannot_break_out_of_its_bibtex_entry(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    title = "Evil}, note={pwned}}\n@misc{injected, title={x} % \\input{/etc/passwd} $_^~#&"
    folder = _pack(
        runs,
        tmp_path / "hostile",
        authors=[{"name": "Tom and Jerry"}, {"name": "Ada Example"}],
        paper={"title": title, "venue": "J. {Hostile}", "year": 2026, "doi": "10.1234/a}b"},
    )
    site = build_site([folder.parent], tmp_path / "site")
    text = (site.out / "methods" / "composition-only.bib").read_text()
    bib = parse_string(text, "bibtex")
    assert list(bib.entries) == ["composition-only2026", "mfbench"]
    entry = bib.entries["composition-only2026"]
    assert entry.type == "article"
    assert entry.fields["title"] == (
        "{Evil\\textbraceright{}, note=\\textbraceleft{}pwned\\textbraceright{}\\textbraceright{} "
        "@misc\\textbraceleft{}injected, title=\\textbraceleft{}x\\textbraceright{} \\% "
        "\\textbackslash{}input\\textbraceleft{}/etc/passwd\\textbraceright{} "
        "\\$\\_\\textasciicircum{}\\textasciitilde{}\\#\\&}"
    )
    assert entry.fields["journal"] == "J. \\textbraceleft{}Hostile\\textbraceright{}"
    assert "doi" not in entry.fields  # a DOI with a brace is left out, not escaped
    # "and" inside a name does not split it: two authors, as submitted
    assert [str(p) for p in entry.persons["author"]] == ["Jerry, Tom {and}", "Example, Ada"]
    assert "\\input{" not in text and "{pwned}" not in text
    # the page shows the same entry, escaped as HTML
    method = (site.out / "methods" / "composition-only.html").read_text()
    assert "@article{composition-only2026," in method
    assert "= {{Evil\\textbraceright{}, note=" in method


def test_a_submission_without_a_paper_cites_its_code() -> None:
    meta = {**SUBMISSION_META, "authors": [{"name": "Ada\u202e Example\nJr"}]}
    del meta["paper"]
    bib = parse_string(submission_bibtex(meta), "bibtex")
    entry = bib.entries["composition-only"]
    assert entry.type == "misc"
    assert entry.fields["title"] == "{composition-only: source code}"
    assert entry.fields["howpublished"] == "Software, commit 0123abcd"
    assert entry.fields["url"] == "https://github.com/example/method"
    # the bidirectional override is dropped and the newline becomes a space
    assert [str(p) for p in entry.persons["author"]] == ["Jr, Ada Example"]


def test_transfer_gains_of_the_committed_baselines_follow_from_their_mae(tmp_path: Path) -> None:
    committed = Path(__file__).parents[1] / "leaderboard" / "results" / "baselines"
    site = build_site([committed], tmp_path / "site")
    stem = site.out / "tasks" / "surrogate-r2scan-quick"
    results = json.loads(stem.with_suffix(".results.json").read_text())["rows"]
    gains = json.loads(stem.with_suffix(".gains.json").read_text())["rows"]
    mae = {(r["method"], r["fraction"]): r for r in results}
    assert len(gains) == len(results) == 14
    for row in gains:
        for metric in ("energy_mae_mev_per_atom", "force_mae_mev_per_a"):
            for baseline in ("zero-shot", "scratch"):
                expected = 1 - (
                    mae[row["method"], row["fraction"]][f"{metric}_mean"]
                    / mae[baseline, row["fraction"]][f"{metric}_mean"]
                )
                assert row[f"{metric}_gain_vs_{baseline}"] == pytest.approx(expected, rel=1e-12)
    # the paper's finding on the demo: refitting the AtomRef beats freezing the GGA one
    by_method = {(r["method"], r["fraction"]): r for r in gains}
    refit = by_method["finetune-refit-atomref", 0.1]["energy_mae_mev_per_atom_gain_vs_scratch"]
    frozen = by_method["finetune-frozen-gga-atomref", 0.1][
        "energy_mae_mev_per_atom_gain_vs_scratch"
    ]
    assert refit > 0 > frozen
    task_page = (site.out / "tasks" / "surrogate-r2scan-quick.html").read_text()
    assert 'id="surrogate-r2scan-quick-gains"' in task_page and "E vs zero-shot" in task_page


def test_a_tampered_or_non_compliant_submission_is_not_ranked(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    tampered = _pack(runs, tmp_path / "tampered")
    npz = sorted(tampered.rglob("predictions.npz"))[0]
    data = bytearray(npz.read_bytes())
    data[-1] ^= 1
    npz.write_bytes(bytes(data))
    # declares the r2scan training fraction only, not the GGA labels the runs read
    flagged = _pack(
        runs,
        tmp_path / "flagged",
        training_data=[SUBMISSION_META["training_data"][0]],
    )
    seeded = runs[1] / TASK / "v1" / "seeded-composition"
    site = build_site([tampered.parent, flagged.parent, seeded], tmp_path / "site")
    index = (site.out / "index.html").read_text()
    page = _page(site, TASK_PAGE)
    ranked = {r["Method"]["text"] for r in _fraction_rows(site)}
    assert ranked == {"seeded-composition"}
    assert "rejected, its runs are not shown" in index
    assert "predictions.npz: manifest has" in index
    assert str(tmp_path) not in index  # no local folders
    assert len(site.rejected) == len(FRACTIONS)
    assert all("rejected submission" in r.problems[-1] for r in site.rejected)
    reference = page.rows(f"{TASK}-reference")
    assert {r["Method"]["text"] for r in reference} == {
        "composition-only [submission non-compliant]"
    }
    assert all("compliance check failed" in r["Reason"]["text"] for r in reference)
    assert "non-compliant, not ranked" in index
    method = (site.out / "methods" / "composition-only.html").read_text()
    assert "<h2>Submission</h2>" in method and "non-compliant, not ranked" in method


def test_other_hyperparameters_make_another_entry_and_a_repeated_run_is_set_apart(
    hostile_site: SiteReport,
) -> None:
    page = _page(hostile_site, TASK_PAGE)
    labels = {r["Method"]["text"] for r in _fraction_rows(hostile_site)}
    real = params_hash({"fallback": -5.0})[:8]
    assert {f"composition-only [{real}]", f"composition-only [{VARIANT}]"} <= labels
    assert "composition-only" not in labels
    (apart,) = page.rows(f"{TASK}-set-apart")
    # one of the two identical runs is kept (the first path in sort order), the other set apart
    copies = ("records/repeated/result.json", "composition-only/fraction-1/seed-0/result.json")
    assert apart["Record"]["text"].endswith(copies)
    assert apart["Reason"]["text"].startswith("repeats the run of ")
    method = (hostile_site.out / "methods" / "composition-only.html").read_text()
    assert "set apart: repeats the run of" in method
    assert (hostile_site.out / "badges" / TASK / f"composition-only-{VARIANT}.svg").is_file()


def test_a_run_from_the_shipped_r2scan_model_is_a_reference_row_not_ranked(
    runs: tuple[Path, Path], hostile_site: SiteReport
) -> None:
    page = _page(hostile_site, TASK_PAGE)
    ranked = [r["Method"]["text"] for r in _fraction_rows(hostile_site)]
    summary = [r["Method"]["text"] for r in _page(hostile_site).rows(f"{TASK}-summary")]
    scaling = [r["Method"]["text"] for r in page.rows(f"{TASK}-scaling")]
    assert ranked and summary and scaling
    assert all("r2scan" not in label for label in ranked + summary + scaling)
    task_page = (hostile_site.out / TASK_PAGE).read_text()
    svgs = "".join(re.findall(r"<svg\b.*?</svg>", task_page, flags=re.S))
    assert f"composition-only [{VARIANT}]" in svgs and "base_model" not in svgs
    assert '<h2 id="reference">Reference rows (not ranked: non-compliant)</h2>' in task_page

    (row,) = page.rows(f"{TASK}-reference")
    assert row["Method"]["text"] == R2SCAN_LABEL
    assert row["Method"]["href"] == "../methods/composition-only.html"
    assert "Rank" not in row
    assert (float(row["Fraction"]["sort"]), row["Seeds"]["text"]) == (1.0, "1")
    reason = row["Reason"]["text"]
    assert reason.startswith("method.params.base_model is 'r2scan': ")
    assert "chgnet-r2scan: trained on r2scan labels of all of MP-r2SCAN" in reason
    assert f"r2scan labels beyond its training fraction of task {TASK}" in reason
    # its metrics are those of the run it copies, the fraction-1 run of composition-only
    stored = json.loads((_source_run(runs[1]) / "result.json").read_text())["metrics"]["all"]
    for header, column in METRICS.items():
        assert float(row[header]["sort"]) == stored[column]
        assert row[header]["text"] == format_number(stored[column])

    stem = hostile_site.out / "tasks" / f"{TASK}.reference"
    (from_csv,) = csv.DictReader(Path(f"{stem}.csv").read_text().splitlines())
    (from_json,) = json.loads(Path(f"{stem}.json").read_text())["rows"]
    assert from_csv["method"] == from_json["method"] == R2SCAN_LABEL
    assert from_csv["reason"] == from_json["reason"] == reason
    assert "rank" not in from_json
    for column in METRICS.values():
        assert float(from_csv[f"{column}_mean"]) == from_json[f"{column}_mean"] == stored[column]
    assert f"../tasks/{TASK}.reference.csv" in page.links
    for name in ("results", "summary", "scaling", "fraction-1"):
        download = (hostile_site.out / "tasks" / f"{TASK}.{name}.csv").read_text()
        rows = list(csv.DictReader(download.splitlines()))
        assert rows and all("r2scan" not in r["method"] for r in rows), name

    # the method page lists it, marked; it gets no badge
    method = (hostile_site.out / "methods" / "composition-only.html").read_text()
    assert f"<h2>{R2SCAN_LABEL}</h2>" in method
    assert "non-compliant, not ranked" in method
    (run,) = [r for r in _Page(method).rows("runs") if r["Method"]["text"] == R2SCAN_LABEL]
    assert run["Status"]["text"] == f"not ranked (non-compliant): {reason}"
    badges = {p.name for p in (hostile_site.out / "badges" / TASK).iterdir()}
    assert len(badges) == len(set(ranked))  # one per ranked entry
    r2scan_hash = params_hash({"fallback": -5.0, "base_model": "r2scan"})
    assert f"composition-only-{r2scan_hash[:8]}.svg" not in badges


@pytest.mark.parametrize(
    ("params", "tag"),
    [
        ({"base_model": "r2scan", "batch_size": 32}, "base_model=r2scan"),
        ({"model": "R2SCAN"}, "model=R2SCAN"),
        (
            {"stages": [{"lr": 1e-3}, {"checkpoint": "CHGNet-r2SCAN"}]},
            "stages[1].checkpoint=CHGNet-r2SCAN",
        ),
        ({"base_model": "0.3.0", "note": "r2scan-like", "fidelity": 2}, None),
        ({}, None),
    ],
)
def test_non_compliance_finds_a_target_trained_checkpoint_in_any_string_param(
    params: dict[str, Any], tag: str | None
) -> None:
    record = {
        "task": {"name": TASK, "target_fidelity": "r2scan"},
        "method": {"name": "m", "params": params},
    }
    flag = non_compliance(record)
    assert (flag.tag if flag else None) == tag
    if flag:
        assert flag.reason.startswith(f"method.params.{tag.split('=')[0]} is ")
    # the rule is the one of submissions.py, per target fidelity
    other = {**record, "task": {"name": TASK, "target_fidelity": "hse"}}
    assert non_compliance(other) is None
    assert identify_checkpoint(name="Chgnet-R2scan").seen("r2scan") is not None
    assert identify_checkpoint(name="chgnet-0.3.0").seen("r2scan") is None


def test_a_rebuild_removes_only_the_files_of_the_last_build(
    runs: tuple[Path, Path], hostile: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    first = build_site([hostile / "traversal"], site)
    (site / "notes.txt").write_text("mine")
    second = build_site([hostile / "xss"], site)
    assert {p for p in first.files if p not in second.files} == set(second.removed)
    assert second.removed and not any(p.exists() for p in second.removed)
    assert (site / "notes.txt").read_text() == "mine"
    assert sorted(p for p in site.rglob("*") if p.is_file()) == sorted(
        [*second.files, site / MANIFEST, site / "notes.txt"]
    )


def test_templates_never_mark_data_safe() -> None:
    for path in (name for name in TEMPLATES if name.endswith(".j2")):
        text = template_text(path)
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path


def test_the_leaderboard_imports_no_heavy_library() -> None:
    probe = (
        "import sys, mfbench.leaderboard; "
        "print(sorted(m for m in ('torch', 'chgnet') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("finetune-refit-atomref", "finetune-refit-atomref"),
        ("../../evil", "evil-"),
        ("..", ""),
        ("Scratch", "scratch-"),
        ("a/b\\c", "a-b-c-"),
    ],
)
def test_slug_is_a_plain_file_name(name: str, expected: str) -> None:
    result = slug(name)
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", result)
    assert "/" not in result and ".." not in result and not result.startswith(".")
    assert result.startswith(expected)
    if result != name:
        assert result.endswith(hashlib.sha256(name.encode()).hexdigest()[:10])


def test_only_http_urls_become_links() -> None:
    assert http_url("https://example.org/x?a=1") == "https://example.org/x?a=1"
    assert http_url("HTTP://example.org") == "HTTP://example.org"
    for value in (
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
        "java\tscript:alert(1)", "data:text/html,x", "//evil.org", "/relative",
        "https://", "https://a b", 'https://a"onmouseover=x', "https://x\n.org", 42, None,
    ):  # fmt: skip
        assert http_url(value) is None, value


def test_site_path_refuses_to_leave_the_site(tmp_path: Path) -> None:
    assert site_path(tmp_path, "methods/a.html") == (tmp_path / "methods" / "a.html").resolve()
    for bad in ("../x", "a/../../x", "/etc/passwd", "a//b", "", "."):
        with pytest.raises(ValueError):
            site_path(tmp_path, bad)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(ValueError, match="outside"):
        site_path(tmp_path, "link/x")


def test_display_text_and_csv_cells() -> None:
    assert display_text("a\x00b\x1b\u202ec\td") == "a\ufffdb\ufffd\ufffdc d"
    assert display_text("abcdef", limit=4) == "abc…"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-x") == "'-x"
    assert csv_cell(-1.5) == -1.5 and csv_cell("plain") == "plain"


def test_inline_svg_refuses_active_content() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg">{}</svg>'
    for body in (
        "<script>alert(1)</script>",
        '<rect onload="alert(1)"/>',
        '<use href="https://evil.org/x.svg#a"/>',
        '<rect style="fill: url(https://evil.org/x)"/>',
        '<rect fill="url(https://evil.org/x)"/>',
        '<rect fill="url(#elsewhere)"/>',
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
    ):
        with pytest.raises(UnsafeSvgError):
            inline_svg(svg.format(body), "p1")
    kept = inline_svg(
        svg.format('<!-- <script> --><defs><clipPath id="c"/></defs><g clip-path="url(#c)"/>'),
        "p1",
    )
    assert 'id="p1-c"' in kept and "url(#p1-c)" in kept and "<!--" not in kept


def test_badge_escapes_its_text() -> None:
    text = badge("mfbench", XSS_NAME + " & \x00", title='"><script>')
    root = ET.fromstring(text)
    assert XSS_NAME in "".join(root.itertext())
    assert "<script" not in text


# ----------------------------------------------------------------------------- in a browser

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian chromium and chromium-driver are not installed (.ci/run installs them)",
)
def test_the_index_in_headless_chromium(clean_site: SiteReport, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,2000"):
        options.add_argument(argument)
    index = clean_site.out / "tasks" / f"{TASK}.html"
    with webdriver.Chrome(options=options, service=Service(CHROMEDRIVER)) as browser:
        browser.get(index.as_uri())
        table = browser.find_element(By.CSS_SELECTOR, f"table[id='{TASK}-fraction-1']")
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        # two entries (composition-only, seeded-composition) at fraction 1
        assert len(rows) == 2
        assert {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows} == {
            "composition-only", "seeded-composition"
        }  # fmt: skip

        def column(header: str) -> list[float]:
            k = [h.text for h in table.find_elements(By.CSS_SELECTOR, "thead th")].index(header)
            return [
                float(r.find_elements(By.TAG_NAME, "td")[k].get_attribute("data-sort"))
                for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
            ]

        energy = "E MAE (meV/atom)"
        button = table.find_element(By.XPATH, f".//thead//button[contains(., '{energy}')]")
        button.click()
        ascending = column(energy)
        assert ascending == sorted(ascending)
        button.click()
        assert column(energy) == sorted(ascending, reverse=True)

        plots = browser.find_elements(By.CSS_SELECTOR, "svg")
        assert len(plots) >= 2 and all(p.size["width"] > 100 for p in plots[:2])
        links = [
            a.get_attribute("href")
            for a in browser.find_elements(By.CSS_SELECTOR, "a[href$='.csv'], a[href$='.json']")
        ]
        assert links
        for link in links:
            browser.get(link)
            assert browser.find_element(By.TAG_NAME, "body").text.strip(), link
        browser.get(index.as_uri())
        assert browser.save_screenshot(str(tmp_path / "index.png"))

        # a phone: the page never scrolls sideways; a table scrolls inside its wrapper while
        # rank, method and the ranked metric stay in view
        browser.set_window_size(375, 800)
        width = "return document.documentElement.clientWidth"
        overflow = "return document.documentElement.scrollWidth"
        for page in (clean_site.out / "index.html", index):
            browser.get(page.as_uri())
            assert browser.execute_script(width) <= 375
            assert browser.execute_script(overflow) <= browser.execute_script(width), page
        table = browser.find_element(By.CSS_SELECTOR, f"table[id='{TASK}-fraction-1']")
        wrapper = table.find_element(By.XPATH, "..")
        cells = table.find_elements(By.CSS_SELECTOR, "tbody tr:first-child td")
        before = [c.location["x"] for c in cells[:4]]
        browser.execute_script("arguments[0].scrollLeft = 400", wrapper)
        assert browser.execute_script("return arguments[0].scrollLeft", wrapper) > 0
        after = [c.location["x"] for c in cells[:4]]
        # (the table's 1 px left border scrolls away under the sticky cells)
        assert all(abs(a - b) <= 1 for a, b in zip(after[:3], before[:3], strict=True))
        assert after[3] < before[3] - 100


# ----------------------------------------------------------------------------- an honest site


def test_every_page_download_and_badge_of_a_model_labelled_task_says_not_citable(
    clean_site: SiteReport,
) -> None:
    assert get_task(TASK).citable is False  # surrogate-r2scan: labels from CHGNet models
    for path in clean_site.pages:
        text = path.read_text()
        assert f'<div class="notice not-citable" role="note">Not citable. {NOT_CITABLE_NOTICE}' in (
            text
        ), path
    downloads = [p for p in clean_site.files if p.parent.name in {"tasks", "methods"}]
    csvs = [p for p in downloads if p.suffix == ".csv"]
    assert len(csvs) > 15
    for path in csvs:
        frame = pd.read_csv(path)  # no options: pandas reads every download as it is
        assert list(frame.columns[-2:]) == ["citable", "notice"], path
        assert frame["citable"].tolist() == [False] * len(frame), path
        assert all(n.startswith(NOT_CITABLE_NOTICE) for n in frame["notice"]), path
    for path in (p for p in downloads if p.suffix == ".json"):
        rows = json.loads(path.read_text())["rows"]
        assert all(r["citable"] is False and NOT_CITABLE_NOTICE in r["notice"] for r in rows)
    badges = [p for p in clean_site.files if p.suffix == ".svg"]
    assert badges
    for path in badges:
        assert "not citable" in "".join(ET.fromstring(path.read_text()).itertext()), path


def test_one_table_per_fraction_with_an_interval_only_from_two_seeds(
    runs: tuple[Path, Path], clean_site: SiteReport
) -> None:
    stem = clean_site.out / "tasks" / f"{TASK}.fraction-1"
    frame = pd.read_csv(f"{stem}.csv").set_index("method")
    assert set(frame["fraction"]) == {1.0} and list(frame["rank"]) == [1, 2]
    column = "energy_mae_mev_per_atom"
    single = frame.loc["composition-only"]
    assert single["n_seeds"] == 1
    assert np.isnan(single[f"{column}_ci_low"]) and np.isnan(single[f"{column}_ci_high"])
    # seeded-composition's two seeds: mean ± t_{0.975, 1} · s / √2, s = |a - b| / √2 with
    # ddof 1, and t_{0.975, 1} = tan(0.475 π) (Student's t with one degree of freedom is Cauchy)
    values = [
        json.loads(p.read_text())["metrics"]["all"][column]
        for p in sorted(
            (runs[1] / TASK / "v1" / "seeded-composition" / "fraction-1").rglob("*.json")
        )
        if p.name == "result.json"
    ]
    assert len(values) == 2
    half = math.tan(0.475 * math.pi) * abs(values[0] - values[1]) / 2
    seeded = frame.loc["seeded-composition"]
    assert seeded[f"{column}_ci_low"] == pytest.approx(np.mean(values) - half, rel=1e-9)
    assert seeded[f"{column}_ci_high"] == pytest.approx(np.mean(values) + half, rel=1e-9)
    # the ranked metric beside the covered share, the covered energy MAE and Ef MAE
    (headers,) = [
        t["headers"]
        for k, t in _page(clean_site, TASK_PAGE).tables.items()
        if k == f"{TASK}-fraction-1"
    ]
    assert headers[:6] == [
        "Rank",
        "Method",
        "E MAE (meV/atom)",
        "Covered share",
        "E MAE covered (meV/atom)",
        "Ef MAE (meV/atom)",
    ]
    assert headers[-2:] == ["Seeds", "Cite"]
    rows = {r["Method"]["text"]: r for r in _page(clean_site, TASK_PAGE).rows(f"{TASK}-fraction-1")}
    assert rows["composition-only"]["Seeds"]["text"] == "1"
    assert "(" not in rows["composition-only"]["E MAE (meV/atom)"]["text"]


def test_no_power_law_through_two_fractions_and_the_page_says_why(clean_site: SiteReport) -> None:
    # fractions 0, 0.1 and 1: 155 and 1,516 frames are at or above the task's 100
    text = (clean_site.out / TASK_PAGE).read_text()
    assert (
        "No power law for any method: only 2 fractions with ≥ 100 training frames (and a "
        "positive MAE); a power law needs 3." in text
    )
    scaling = pd.read_csv(clean_site.out / "tasks" / f"{TASK}.scaling.csv")
    assert (scaling["n_points"] == 0).all() and scaling["slope"].isna().all()
    assert scaling["prefactor"].isna().all() and scaling["r2"].isna().all()
    assert scaling["no_fit_reason"].str.startswith("only 2 fractions with ≥ 100").all()
    assert "power-law fit" not in "".join(re.findall(r"<svg\b.*?</svg>", text, flags=re.S))


def test_the_paper_check_is_on_the_task_page(clean_site: SiteReport) -> None:
    page = _page(clean_site, TASK_PAGE)
    assert (
        '<h2 id="paper">Does this reproduce the paper?</h2>'
        in (clean_site.out / TASK_PAGE).read_text()
    )
    rows = page.rows(f"{TASK}-paper-check")
    assert len(rows) == 3
    # none of the paper's methods ran here: nothing can be measured, and the page says so
    assert {r["Verdict"]["text"] for r in rows} == {"not measurable"}
    assert all(r["Detail"]["text"] for r in rows)


def test_each_method_keeps_its_colour_and_plain_tick_labels(clean_site: SiteReport) -> None:
    text = (clean_site.out / TASK_PAGE).read_text()
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    assert len(svgs) == 2
    for method in ("composition-only", "seeded-composition"):
        color, _ = method_style(method)
        assert all(color in svg for svg in svgs), method
    for svg in svgs:
        texts = [t.strip() for t in ET.fromstring(svg).itertext() if t.strip()]
        assert not any(re.search(r"e[+-]\d|\^|mathdefault|×10", t) for t in texts), texts
        ticks = [t for t in texts if re.fullmatch(r"[\d,.]+", t)]
        assert len(ticks) >= 4 and all(float(t.replace(",", "")) > 0 for t in ticks)


def test_pages_carry_the_markers_of_a_phone_layout(clean_site: SiteReport) -> None:
    for path in clean_site.pages:
        text = path.read_text()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
        # every table sits in a wrapper that scrolls sideways, the page never does
        assert text.count("<table ") == len(
            re.findall(r'<div class="scroll"[^>]*>\n<table ', text)
        ), path
        assert "@media (max-width: 48rem)" in text and "position: sticky" in text
        assert not re.search(r"(?<!max-)width:\s*\d{3,}px", text), path
    for name, key in (("index.html", f"{TASK}-summary"), (TASK_PAGE, f"{TASK}-fraction-1")):
        text = (clean_site.out / name).read_text()
        (table,) = re.findall(
            rf'<table id="{re.escape(key)}" class="([^"]*)">(.*?)</table>', text, re.S
        )
        assert "sticky" in table[0].split()
        heads = re.findall(r'<th scope="col"(?: class="([^"]*)")?>([^<]*)</th>', table[1])
        assert heads[:3] == [
            ("stick stick-1", "Rank"),
            ("stick stick-2", "Method"),
            ("stick stick-3", "E MAE (meV/atom)"),
        ]
        assert all(cls == "" for cls, _ in heads[3:])
        first_row = re.search(r"<tbody>\n<tr>(.*?)</tr>", table[1], re.S).group(1)
        assert re.findall(r'<td class="([^"]*)"', first_row)[:3] == [
            "num stick stick-1",
            "stick stick-2",
            "num stick stick-3",
        ]
