"""Citing a ranked score and checking the citation: both forms, hostile names, `cite` → `verify`.

The round trips run the CLI in process on copies of committed records: two demo runs of
``sevennet-r2scan-quick`` (one seed each: no interval) and the three seeds of
``finetune-refit-atomref`` at fraction 0.1 of the ranked task ``sevennet-r2scan`` (a 95 %
interval).
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest
from pybtex.database import parse_string

from mfbench.cli import main
from mfbench.leaderboard.citation_parsing import CitationParseError, parse_citations
from mfbench.leaderboard.score_citations import (
    CitedRecord,
    ScoreCitation,
    citation_bibtex,
    citation_file,
    citation_text,
    sentence,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboard" / "results" / "baselines"
QUICK = "sevennet-r2scan-quick/v1/{}/fraction-0.1/seed-0"
HOSTILE = 'evil}\n@misc{x, title={pwned}} 100% _&$#~^\\end{"quote"'
HEX = "0123456789abcdef" * 4


def citation(**changes: object) -> ScoreCitation:
    """A citation of three seeds with an interval, of a model-labelled task."""
    fields: dict[str, object] = {
        "task": "sevennet-r2scan",
        "task_version": 1,
        "citable": False,
        "fidelity": "r²SCAN",
        "method": "finetune-refit-atomref",
        "params_hash": HEX,
        "fraction": 0.1,
        "n_train_frames": 288,
        "seeds": (0, 1, 2),
        "mean": 2434.2361071776486,
        "ci_low": 2301.0000000000005,
        "ci_high": 2567.4722143552967,
        "rank": 2,
        "snapshot": HEX[::-1],
        "mfbench_version": "0.1.0",
        "records": tuple(CitedRecord(s, HEX, HEX[::-1]) for s in (0, 1, 2)),
    }
    fields.update(changes)
    return ScoreCitation(**fields)  # type: ignore[arg-type]


def claims_of(c: ScoreCitation) -> dict[str, object]:
    """What a parsed citation must give back."""
    return {
        "task": c.task,
        "task_version": c.task_version,
        "citable": c.citable,
        "params_hash": c.params_hash,
        "fraction": c.fraction,
        "n_train_frames": c.n_train_frames,
        "seeds": c.seeds,
        "mean": c.mean,
        "interval": None if len(c.seeds) < 2 else (c.ci_low, c.ci_high),
        "records": tuple((r.seed, r.record_sha256, r.predictions_sha256) for r in c.records),
        "snapshot": c.snapshot,
        "mfbench_version": c.mfbench_version,
    }


def test_both_forms_read_back_at_full_precision() -> None:
    source = citation()
    text, bibtex = parse_citations(citation_file(source))
    assert (text.form, bibtex.form) == ("plain text", "BibTeX") and text.same_claims(bibtex)
    for parsed in (text, bibtex):
        assert {k: getattr(parsed, k) for k in claims_of(source)} == claims_of(source)
        assert parsed.method == source.method
    assert "95 % t-interval of the mean 2301.0 to 2567.5" in sentence(source)
    assert "energy MAE 2434.2 meV/atom" in sentence(source)


def test_one_seed_has_no_interval_and_a_citable_task_no_warning() -> None:
    source = citation(seeds=(0,), ci_low=None, ci_high=None, citable=True,
                      records=(CitedRecord(0, HEX, HEX),))  # fmt: skip
    assert "(one seed, no interval)" in sentence(source)
    assert "model" not in citation_file(source).lower()
    (parsed, _) = parse_citations(citation_file(source))
    assert parsed.interval is None and parsed.citable


def test_a_model_labelled_task_says_its_labels_are_not_r2scan_results() -> None:
    text = citation_file(citation())
    assert "The labels of this task come from a model, not from r²SCAN: this is not an r²SCAN " \
        "result." in text  # fmt: skip
    assert "labels: from a model, not r²SCAN results" in text
    assert "mfbench_labels" in text and "from a model, not r²SCAN results}" in text


def test_a_hostile_method_name_stays_inert_in_both_forms() -> None:
    source = citation(method=HOSTILE)
    text = citation_text(source)
    (line,) = [line for line in text.splitlines() if line.startswith("method: ")]
    assert line.startswith('method: "evil}\\n\\u0040misc')  # a JSON string: one line
    bibtex = citation_bibtex(source)
    database = parse_string(bibtex, "bibtex")
    (key,) = database.entries
    assert re.fullmatch(r"[A-Za-z0-9._:-]+", key) and "x" not in database.entries
    assert bibtex.count("{") == bibtex.count("}")
    assert "@" not in text  # pasted into a .bib file, the plain text opens no entry
    inside = bibtex.replace("contributors}", "contributors @misc{y, mfbench_mean={1}}}")
    forged = citation_text(source) + inside
    assert len(parse_citations(forged)) == 2  # an @ inside a field opens no entry either
    plain, from_bibtex = parse_citations(citation_file(source))
    assert plain.method == HOSTILE and plain.names_method(HOSTILE)
    assert from_bibtex.names_method(HOSTILE) and not from_bibtex.names_method("evil")


def test_edited_files_still_parse() -> None:
    source = citation()
    quoted = "".join(f"> {line}\r\n" for line in citation_text(source).splitlines())
    (parsed,) = parse_citations(quoted)
    assert parsed.mean == source.mean and parsed.snapshot == source.snapshot
    # a reference manager: fields re-wrapped, names upper-cased, quotes instead of braces
    bibtex = citation_bibtex(source).replace("mfbench_mean", "MFBENCH_MEAN")
    bibtex = bibtex.replace(f"{{{source.snapshot}}}", f'"{source.snapshot}"')
    bibtex = bibtex.replace(" predictions ", "\n      predictions ")
    (parsed,) = parse_citations(bibtex)
    assert parsed.mean == source.mean and parsed.snapshot == source.snapshot
    assert parsed.records == claims_of(source)["records"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nothing to see", "no mfbench score citation"),
        ("mfbench score citation\n\ntask: t\nmean: 1.0\n", "lacks task version"),
        (citation_text(citation()).replace("mean: 2434", "mean: lots"), "mean: 'lots"),
        (citation_text(citation()).replace("energy_mae_mev", "force_mae_mev"), "metric"),
    ],
)
def test_a_broken_citation_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CitationParseError, match=message):
        parse_citations(text)


# ----------------------------------------------------------------------------- round trips


pytestmark = pytest.mark.usefixtures("use_shared_home")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """Two demo runs (zero-shot and scratch, fraction 0.1, seed 0)."""
    for method in ("zero-shot", "scratch"):
        run = QUICK.format(method)
        shutil.copytree(COMMITTED / run, tmp_path / "results" / run)
    return tmp_path / "results"


def test_cite_then_verify_confirms_and_a_changed_record_is_named(
    quick: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cite", "--results", str(quick), "--task", "sevennet-r2scan-quick",
            "--method", "scratch", "--fraction", "0.1"]  # fmt: skip
    code, cited, _ = run_cli(argv, capsys)
    assert code == 0 and "(one seed, no interval)" in cited
    assert "come from a model, not from r²SCAN" in cited
    file = tmp_path / "scratch.txt"
    file.write_text(cited, encoding="utf-8")
    code, report, _ = run_cli(["verify", str(file), "--results", str(quick)], capsys)
    assert code == 0, report
    assert "2 citation forms, 1 distinct claim(s)" in report and "=> CONFIRMED" in report
    (snapshot,) = re.findall(r"^snapshot: ([0-9a-f]{64})$", cited, re.MULTILINE)
    code, report, _ = run_cli(["verify", snapshot[:12], "--results", str(quick)], capsys)
    assert code == 0 and snapshot in report
    predictions = quick / QUICK.format("scratch") / "predictions.npz"
    blob = bytearray(predictions.read_bytes())
    blob[-1] ^= 1
    predictions.write_bytes(bytes(blob))
    code, report, _ = run_cli(["verify", str(file), "--results", str(quick)], capsys)
    assert code == 1 and "=> REFUTED" in report
    named = (
        f"REFUTED   record seed 0: {quick / QUICK.format('scratch') / 'result.json'} is rejected"
    )
    assert named in report, report
    code, report, _ = run_cli(["verify", snapshot, "--results", str(quick)], capsys)
    assert code == 1 and "REFUTED   snapshot" in report


def test_verify_and_cite_usage_errors_exit_2_without_a_traceback(
    quick: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("a paper that cites nothing\n", encoding="utf-8")
    for argv, message in (
        (["verify", "not-an-id", "--results", str(quick)], "neither a file"),
        (["verify", str(empty), "--results", str(quick)], "no mfbench score citation"),
        (["verify", "0123456789ab", "--results", str(tmp_path / "nowhere")], "no such file"),
        (["cite", "--results", str(quick), "--task", "sevennet-r2scan-quick", "--method",
          "scratchy", "--fraction", "0.1"], "ranked there: scratch, zero-shot"),
        (["cite", "--results", str(quick), "--task", "sevennet-r2scan-quick", "--method",
          "scratch", "--fraction", "0.5"], "its fractions: 0.1"),
        (["cite", "--results", str(quick), "--task", "mp-r2scan", "--method",
          "scratch", "--fraction", "0.1"], "tasks there: sevennet-r2scan-quick"),
    ):  # fmt: skip
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, out, err)
        assert message in err and "Traceback" not in err + out, (argv, err)


def test_three_seeds_cite_an_interval_that_verify_confirms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = "sevennet-r2scan/v1/finetune-refit-atomref/fraction-0.1"
    shutil.copytree(COMMITTED / folder, tmp_path / "results" / folder)
    argv = ["cite", "--results", str(tmp_path / "results"), "--task", "sevennet-r2scan",
            "--method", "finetune-refit-atomref", "--fraction", "0.1",
            "--form", "bibtex"]  # fmt: skip
    code, cited, _ = run_cli(argv, capsys)
    assert code == 0 and cited.startswith(
        "@misc{mfbench-sevennet-r2scan-finetune-refit-atomref-f0.1-"
    )
    (parsed,) = parse_citations(cited)
    assert parsed.seeds == (0, 1, 2) and parsed.interval is not None
    low, high = parsed.interval
    assert parsed.mean is not None and low < parsed.mean < high and math.isfinite(high)
    assert [seed for seed, _, _ in parsed.records] == [0, 1, 2]
    file = tmp_path / "refit.bib"
    file.write_text(cited, encoding="utf-8")
    code, report, _ = run_cli(["verify", str(file), "--results", str(tmp_path / "results")],
                              capsys)  # fmt: skip
    assert code == 0, report
    assert "confirmed energy MAE 95 % interval low" in report
    # a cited number off by more than the tolerance is refuted, and says by how much
    file.write_text(cited.replace(repr(high), repr(high * (1 + 1e-6))), encoding="utf-8")
    code, report, _ = run_cli(["verify", str(file), "--results", str(tmp_path / "results")],
                              capsys)  # fmt: skip
    assert code == 1 and "REFUTED   energy MAE 95 % interval high" in report
