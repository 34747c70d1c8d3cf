"""A site built from a fresh clone: stamped with its snapshot, and its citations verify.

Issue 17's "done when": a committed score is cited, the site is rebuilt from a fresh clone, and
``mfbench verify`` confirms the citation; changing one committed record makes the same
verification fail naming the record.

The clone is a real ``git clone`` of this checkout's committed HEAD (sparse: the demo task's
records and the committed diagnostics), so the records are exactly what anyone cloning the
repository gets: nothing uncommitted, ignored or generated in the checkout can leak in. The
code that builds, cites and verifies is the checkout's (``PYTHONPATH``), so the test checks the
code under test against the committed records. Building the site takes about 20 s.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mfbench.demo import DEMO_METHODS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

#: What the clone checks out: the demo task's committed records and the diagnostics.
SPARSE = (
    "leaderboard/results/baselines/sevennet-r2scan-quick",
    "leaderboard/results/reference-models/sevennet-r2scan-quick",
    "leaderboard/diagnostics",
)
TASK = "sevennet-r2scan-quick"
#: The records the clone holds: the demo's baselines at its 2 fractions, 2 reference rows at each.
N_RECORDS = len(DEMO_METHODS) * 2 + 2 * 2
#: The committed score the test cites: Method 4 (the elemental-referenced fine-tune) at 0.1.
METHOD, FRACTION = "finetune-refit-atomref", "0.1"
CITED_RUN = f"baselines/{TASK}/v1/{METHOD}/fraction-{FRACTION}/seed-0"


def mfbench(argv: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m mfbench ARGV`` with the checkout's code."""
    env = {**os.environ, "MFBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("MFBENCH_TASKS", None)
    return subprocess.run(
        [sys.executable, "-m", "mfbench", *argv], capture_output=True, text=True, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh sparse clone of the checkout's committed HEAD."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: nothing to clone")
    folder = tmp_path_factory.mktemp("clone") / "mfbench"
    for command in (
        ["git", "clone", "-q", "--no-checkout", str(ROOT), str(folder)],
        ["git", "-C", str(folder), "sparse-checkout", "set", "--no-cone", *SPARSE],
        ["git", "-C", str(folder), "checkout", "-q"],
    ):
        subprocess.run(command, check=True, capture_output=True)
    records = list((folder / "leaderboard" / "results").rglob("result.json"))
    assert len(records) == N_RECORDS
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("site-snapshot-home")


@pytest.fixture(scope="module")
def site(clone: Path, home: Path) -> tuple[Path, str]:
    """``(site folder, build log)`` of the site built from the clone's committed records."""
    out = clone.parent / "site"
    done = mfbench(
        ["leaderboard", "build", "--results", "leaderboard/results",
         "--diagnostics", "leaderboard/diagnostics", "--out", str(out)],
        home, clone,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def snapshot_id(site: Path) -> str:
    listing = json.loads((site / "snapshot.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"[0-9a-f]{64}", listing["id"]) and listing["n_records"] == N_RECORDS
    assert listing["left_out"] == {} and len(listing["entries"]) == N_RECORDS
    return str(listing["id"])


def test_every_page_download_and_badge_carries_the_same_snapshot_id(
    site: tuple[Path, str],
) -> None:
    out, log = site
    snapshot = snapshot_id(out)
    assert f"leaderboard snapshot {snapshot[:12]} ({snapshot})" in log
    pages = sorted(out.rglob("*.html"))
    assert any(p.parent.name == "diagnostics" for p in pages) and len(pages) > 5
    for page in pages:
        footer = page.read_text(encoding="utf-8").rpartition("<footer>")[2]
        assert snapshot in footer, page
    csvs = sorted(out.rglob("*.csv"))
    assert len(csvs) > 20
    for path in csvs:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
        assert rows and {row["snapshot"] for row in rows} == {snapshot}, path
    tables = {p.with_suffix(".json") for p in csvs}
    assert set(out.rglob("*.json")) - tables == {out / "snapshot.json", out / ".mfbench-site.json"}
    for path in sorted(tables):
        assert json.loads(path.read_text(encoding="utf-8"))["snapshot"] == snapshot, path
    badges = sorted(out.rglob("*.svg"))
    assert badges
    for path in badges:
        svg = ET.fromstring(path.read_text(encoding="utf-8"))
        texts = {el.tag.rsplit("}", 1)[-1]: el.text or "" for el in svg}
        assert snapshot in texts["desc"] and snapshot[:12] in texts["title"], path


def test_every_ranked_row_links_a_citation_of_this_snapshot(site: tuple[Path, str]) -> None:
    out, _ = site
    snapshot = snapshot_id(out)
    page = (out / "tasks" / f"{TASK}.html").read_text(encoding="utf-8")
    links = re.findall(r'href="\.\./(cite/[^"]+\.txt)"', page)
    # every demo baseline at the demo's 2 fractions; reference rows are not ranked
    assert len(links) == len(DEMO_METHODS) * 2 == 18
    assert sorted(links) == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt"))
    for link in links:
        text = (out / link).read_text(encoding="utf-8")
        assert f"snapshot: {snapshot}" in text and f"mfbench_snapshot      = {{{snapshot}}}" in text
        assert "The labels of this task come from a model, not from r²SCAN" in text


def test_a_committed_score_cited_from_a_fresh_clone_verifies_until_a_record_changes(
    site: tuple[Path, str], clone: Path, home: Path, tmp_path: Path
) -> None:
    out, _ = site
    results = clone / "leaderboard" / "results"
    cited = mfbench(
        ["cite", "--results", str(results), "--task", TASK, "--method", METHOD,
         "--fraction", FRACTION], home, tmp_path,
    )  # fmt: skip
    assert cited.returncode == 0, cited.stderr[-3000:]
    on_site = out / "cite" / TASK / f"fraction-{FRACTION}" / f"{METHOD}.txt"
    assert cited.stdout == on_site.read_text(encoding="utf-8")
    confirmed = mfbench(["verify", str(on_site), "--results", str(results)], home, tmp_path)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr[-3000:]
    assert "=> CONFIRMED" in confirmed.stdout and "REFUTED" not in confirmed.stdout
    listing = mfbench(["verify", str(out / "snapshot.json"), "--results", str(results)],
                      home, tmp_path)  # fmt: skip
    assert listing.returncode == 0, listing.stdout

    changed = tmp_path / "results"
    shutil.copytree(results, changed)
    predictions = changed / CITED_RUN / "predictions.npz"
    blob = bytearray(predictions.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    predictions.write_bytes(bytes(blob))
    refuted = mfbench(["verify", str(on_site), "--results", str(changed)], home, tmp_path)
    assert refuted.returncode == 1, refuted.stdout + refuted.stderr[-3000:]
    record = changed / CITED_RUN / "result.json"
    assert f"REFUTED   record seed 0: {record} is rejected" in refuted.stdout, refuted.stdout
    assert "REFUTED   snapshot" in refuted.stdout
    listing = mfbench(["verify", str(out / "snapshot.json"), "--results", str(changed)],
                      home, tmp_path)  # fmt: skip
    assert listing.returncode == 1
    assert f"method {METHOD} [params" in listing.stdout and str(record) in listing.stdout
