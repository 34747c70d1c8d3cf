"""Bad invocations a user can type: each one exits non-zero with one clear error line, before
any work, and never with a Python traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mfbench.cli import main
from mfbench.paths import datasets_dir

RUN = ["run", "--task", "surrogate-r2scan-quick", "--fraction", "0.05"]


def _registry_with_unknown_option(tmp_path: Path) -> str:
    entry = {
        "id": "mine", "version": "1", "title": "t", "source": "user", "format": "nested-json",
        "options": {"fidelities": {"gga": {"energy": "e", "energy_kind": "per_atom",
                                            "forces": "f"}}, "foo": 1},
        "fidelities": ["gga"],
    }  # fmt: skip
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump([entry]))
    (tmp_path / "data.json").write_text("{}")
    return str(path)


CASES = [
    (
        [*RUN, "--method", "zero-shot", "--param", "lr=1e-4"],
        "mfbench: error: method zero-shot has no parameter 'lr'",
    ),
    (
        [*RUN, "--method", "zero-shot", "--param", "batch_size=abc"],
        "mfbench: error: parameter batch_size of method zero-shot must be int, not 'abc' (str)",
    ),
    (
        [*RUN, "--method", "multi-stage", "--param", "learning_rate=abc"],
        "mfbench: error: parameter learning_rate of method multi-stage must be float, not 'abc'",
    ),
    (
        [*RUN, "--method", "zero-shot", "--param", "lr"],
        "mfbench: error: --param expects KEY=VALUE, got 'lr'",
    ),
    (
        [*RUN, "--method", "zero-shot", "--device", "cuda"],
        "mfbench: error: device 'cuda' requested, but torch sees no CUDA device",
    ),
    ([*RUN, "--method", "zero-shot", "--device", "tpu"], "mfbench: error: unknown device 'tpu'"),
    (
        ["run", "--task", "no-such-task", "--method", "zero-shot", "--fraction", "0.05"],
        "mfbench: error: unknown task 'no-such-task'",
    ),
    (
        [*RUN, "--method", "zero-shot", "--tasks", "/no/such/tasks"],
        "mfbench: error: /no/such/tasks does not exist (given with --tasks)",
    ),
    (
        [
            "sweep",
            "--task",
            "surrogate-r2scan-quick",
            "--methods",
            "zero-shot",
            "--param",
            "lr=1",
            "--dry-run",
        ],
        "mfbench: error: invalid sweep:",
    ),
    (
        ["evaluate", "--task", "surrogate-r2scan-quick", "--model", "/no/such/run"],
        "mfbench: error: unknown pretrained model '/no/such/run'",
    ),
]


@pytest.mark.parametrize(("argv", "first_line"), CASES)
def test_a_bad_invocation_is_one_clear_error(
    argv: list[str],
    first_line: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this CPU machine
    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.splitlines()[0].startswith(first_line), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_an_unknown_reader_option_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _registry_with_unknown_option(tmp_path)
    argv = [
        "data",
        "prepare",
        "mine",
        "--registry",
        registry,
        "--source",
        str(tmp_path / "data.json"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mfbench: error: dataset mine: unknown reader option foo")
    assert "its options are: fidelities: Mapping[str, LabelKeys]" in err


def test_ctrl_c_during_prepare_is_a_clean_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mfbench.data import prepare as prepare_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module, "read_frames", interrupted)
    assert main(["data", "prepare", "surrogate-aflow"]) == 130
    err = capsys.readouterr().err
    assert err == "mfbench: interrupted; nothing half-written was kept\n"
    # the store's temporary folder went with it
    assert not any(p.name.startswith(".surrogate-aflow") for p in datasets_dir().iterdir())
