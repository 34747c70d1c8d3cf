"""Method pages: per task, a parity plot, per-element errors, training curves and the selection.

Built from the committed baseline records (whose predictions and task labels give the parity
plot) and from a copy of one of them given a hyperparameter-selection block.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mfbench.html.numbers import format_number
from mfbench.leaderboard import content as content_module
from mfbench.leaderboard.build import render_site
from mfbench.leaderboard.content import build_content
from mfbench.leaderboard.method_plots import (
    PARITY_POINTS,
    ElementError,
    TrainingSeries,
    parity_svg,
    per_element_svg,
    subsample,
    training_svg,
)
from mfbench.leaderboard.method_sections import MethodPage, MethodTaskSection, RecordFiles
from mfbench.leaderboard.plots import method_style
from mfbench.leaderboard.view_model import SiteContent
from mfbench.results import validate_records
from mfbench.results.record import params_hash

from .factories import set_record_fields

COMMITTED = Path(__file__).parents[1] / "leaderboard" / "results" / "baselines"
TASK = "surrogate-r2scan-quick"
TRAINED = ("scratch", "finetune-trainable-atomref", "finetune-frozen-gga-atomref",
           "finetune-refit-atomref", "multi-stage")  # fmt: skip
UNTRAINED = ("gga-floor", "zero-shot")
ENERGY = "energy_mae_mev_per_atom"


def _content(roots: list[Path], *, with_files: bool = True) -> SiteContent:
    """:func:`build_content` of the records under ``roots``, the method pages given their files."""
    reports = validate_records(roots)
    assert all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    files = RecordFiles([r.path for r in reports]) if with_files else None
    plain = content_module.method_content
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            content_module, "method_content", lambda *args, **_: plain(*args, files=files)
        )
        return build_content(reports, roots)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home where the embedded dataset gets prepared once for this module."""
    path = tmp_path_factory.mktemp("method-page-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def committed(home: Path) -> SiteContent:
    return _content([COMMITTED / TASK])


@pytest.fixture(autouse=True)
def _module_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFBENCH_HOME", str(home))


def _records() -> dict[tuple[str, float], dict[str, Any]]:
    """The committed records by (method, fraction) (one seed each)."""
    found = {}
    for path in sorted((COMMITTED / TASK).rglob("result.json")):
        record = json.loads(path.read_text())
        found[record["method"]["name"], record["fraction"]] = record
    return found


def _section(content: SiteContent, method: str) -> MethodTaskSection:
    (page,) = [m for m in content.methods if m.name == method]
    assert isinstance(page, MethodPage)
    (section,) = page.sections
    return section


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


# ----------------------------------------------------------------------------- committed records


@pytest.mark.parametrize("method", TRAINED + UNTRAINED)
def test_every_method_has_a_parity_plot_of_its_largest_fraction(
    committed: SiteContent, method: str
) -> None:
    section = _section(committed, method)
    record = _records()[method, 0.1]
    assert section.task == TASK and section.task_page == f"tasks/{TASK}.html"
    assert "fraction, 0.1 (155 training frames), seed 0" in section.run
    assert section.parity is not None, section.parity_note
    # the MAE over the test frames recomputed from the predictions is the record's
    n_test = record["coverage"]["test_frames"]
    mae = format_number(record["metrics"]["all"][ENERGY])
    assert f"energy MAE over the {n_test:,} test frames {mae} meV/atom" in section.parity.caption
    assert f"Shown: all {n_test:,} test frames" in section.parity.caption
    color, _ = method_style(method)
    assert color in str(section.parity.svg)


@pytest.mark.parametrize("method", ["finetune-refit-atomref", "gga-floor"])
def test_per_element_errors_are_the_records_in_order_of_atomic_number(
    committed: SiteContent, method: str
) -> None:
    from pymatgen.core import Element

    section = _section(committed, method)
    rows = _records()[method, 0.1]["per_element_energy_mae"]
    assert section.per_element is not None
    symbols = [r["element"] for r in sorted(rows, key=lambda r: Element(r["element"]).Z)]
    ticks = [t for t in _texts(str(section.per_element.svg)) if t in set(symbols)]
    assert ticks == symbols
    worst = max(rows, key=lambda r: r[ENERGY])
    assert (
        f"Largest: {worst['element']}, {format_number(worst[ENERGY])} meV/atom over "
        f"{worst['n_frames']:,} frame(s)" in section.per_element.caption
    )


@pytest.mark.parametrize("method", TRAINED)
def test_trained_methods_show_their_recorded_training_curves(
    committed: SiteContent, method: str
) -> None:
    section = _section(committed, method)
    assert section.training is not None, section.training_note
    labels = _texts(str(section.training.svg))
    stages = list(_records()[method, 0.1]["training"]["history"])
    suffix = f" ({', '.join(stages)})" if len(stages) > 1 else ""
    assert f"fraction 0.05{suffix}" in labels and f"fraction 0.1{suffix}" in labels
    assert section.selection is None and "No hyperparameter selection" in section.selection_note


@pytest.mark.parametrize("method", UNTRAINED)
def test_untrained_methods_say_they_have_no_training_curves(
    committed: SiteContent, method: str
) -> None:
    section = _section(committed, method)
    assert _records()[method, 0.1]["training"]["history"] is None
    assert section.training is None
    assert section.training_note.startswith("No training curves")
    assert section.selection is None


def test_the_method_page_renders_every_section(committed: SiteContent) -> None:
    files = render_site(committed)
    page = files["methods/multi-stage.html"].decode()
    for heading in ("Parity: energy per atom", "Energy error per element", "Training curves",
                    "Hyperparameter selection"):  # fmt: skip
        assert f"<h3>{heading}</h3>" in page
    assert f'id="task-{TASK}-multi-stage"' in page
    assert page.count("<svg") >= 4  # three plots and the badge
    zero_shot = files["methods/zero-shot.html"].decode()
    assert "No training curves: the runs record no training history" in zero_shot


def test_without_record_files_the_page_says_why_there_is_no_parity_plot(home: Path) -> None:
    content = _content([COMMITTED / TASK / "v1" / "scratch"], with_files=False)
    section = _section(content, "scratch")
    assert section.parity is None
    assert section.parity_note == "No parity plot: the record files were not given to this build."
    assert section.per_element is not None and section.training is not None


# ----------------------------------------------------------------------------- selection


def _with_selection(folder: Path) -> Path:
    """A copy of the refit fine-tune's fraction-0.1 run whose record holds a selection block."""
    source = COMMITTED / TASK / "v1" / "finetune-refit-atomref" / "fraction-0.1" / "seed-0"
    run = folder / "finetune-refit-atomref" / "fraction-0.1" / "seed-0"
    shutil.copytree(source, run)
    params = json.loads((run / "result.json").read_text())["method"]["params"]
    requested = dict(params)
    candidates = [
        {"params": {"learning_rate": 0.0003}, "status": "ok", "steps_run": 10,
         "fit_seconds": 4.5, "val": {"energy_mae": 812.5, "force_mae": 91.25, "stress_mae": 0.75}},
        {"params": {"learning_rate": 0.001}, "status": "ok", "steps_run": 10,
         "fit_seconds": 4.25, "val": {"energy_mae": 640.5, "force_mae": 88.0, "stress_mae": 0.5}},
        {"params": {"learning_rate": 0.003}, "status": "diverged: loss is nan at epoch 1",
         "val": None, "fit_seconds": 1.5},
    ]  # fmt: skip
    selection = {
        "requested_params": requested,
        "requested_params_hash": params_hash(requested),
        "grid": {"learning_rate": [0.0003, 0.001, 0.003]},
        "split": "val",
        "metric": "energy_mae",
        "candidates": candidates,
        "chosen": {"learning_rate": 0.001},
    }
    set_record_fields(run / "result.json", {"selection": selection})
    return folder


def test_a_selection_block_becomes_a_table_of_candidates(home: Path, tmp_path: Path) -> None:
    content = _content([_with_selection(tmp_path / "selected")])
    section = _section(content, "finetune-refit-atomref")
    table = section.selection
    assert table is not None and section.selection_note == ""
    assert "energy_mae" in table.caption
    texts = [[cell.text for cell in row] for row in table.rows]
    assert texts == [
        ["0.1", "0", "learning_rate=0.0003", "ok", "812", "91.2", "0.750", "10", "4.50", ""],
        ["0.1", "0", "learning_rate=0.001", "ok", "640", "88.0", "0.500", "10", "4.25", "chosen"],
        ["0.1", "0", "learning_rate=0.003", "diverged: loss is nan at epoch 1", "–", "–", "–",
         "–", "1.50", ""],
    ]  # fmt: skip
    assert [r["chosen"] for r in table.records] == [False, True, False]
    assert table.records[0]["val_energy_mae"] == 812.5
    page = render_site(content)["methods/finetune-refit-atomref.html"].decode()
    assert 'id="selection-surrogate-r2scan-quick-finetune-refit-atomref"' in page
    assert "diverged: loss is nan at epoch 1" in page


def test_a_malformed_history_gives_a_note_not_an_error(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    shutil.copytree(COMMITTED / TASK / "v1" / "scratch" / "fraction-0.1", folder / "fraction-0.1")
    set_record_fields(
        folder / "fraction-0.1" / "seed-0" / "result.json",
        {"training.history": {"train": [{"epoch": "one", "val": {"e": "x"}}, 7], "x": 3}},
    )
    section = _section(_content([folder]), "scratch")
    assert section.training is None
    assert section.training_note.startswith("No training curves: the recorded history holds")


# ----------------------------------------------------------------------------- plots


def test_subsample_keeps_the_worst_points_and_is_deterministic() -> None:
    errors = np.sin(np.arange(5000) * 0.37)
    errors[[17, 4242]] = [50.0, -60.0]
    chosen = subsample(errors)
    assert len(chosen) == PARITY_POINTS and np.all(np.diff(chosen) > 0)
    assert {17, 4242} <= set(chosen.tolist())
    assert np.array_equal(chosen, subsample(errors.copy()))
    assert np.array_equal(subsample(errors[:10]), np.arange(10))


def test_a_parity_plot_of_many_frames_draws_at_most_the_limit() -> None:
    reference = np.linspace(-9.0, -1.0, 4000)
    predicted = reference + 0.01 * np.cos(np.arange(4000))
    svg, shown = parity_svg("t", "scratch", reference, predicted)  # type: ignore[misc]
    assert shown == PARITY_POINTS
    assert svg.startswith("<svg") and svg == parity_svg("t", "scratch", reference, predicted)[0]  # type: ignore[index]
    assert parity_svg("t", "scratch", np.array([np.nan]), np.array([1.0])) is None


def test_empty_plots_are_none() -> None:
    assert per_element_svg("t", "scratch", [ElementError("H", 1, float("nan"), 2)]) is None
    empty = TrainingSeries("f", np.array([1.0]), np.array([np.nan]), np.array([0.0]))
    assert training_svg("t", "scratch", [empty]) is None


def test_elements_without_error_show_on_a_linear_axis() -> None:
    errors = [ElementError("Li", 3, 0.0, 2), ElementError("H", 1, 0.5, 1)]
    svg = per_element_svg("t", "gga-floor", errors)
    assert svg is not None
    assert [t for t in _texts(svg) if t in {"H", "Li"}] == ["H", "Li"]
