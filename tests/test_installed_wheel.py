"""An installed wheel (``pip install .``) is a complete mfbench: templates, task files, baselines.

The wheel is built from the checkout and unpacked into a folder that comes first on
``PYTHONPATH``, so the subprocesses below import mfbench from the wheel, not from the checkout
(the editable install's finder comes after the path finder).
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mfbench.html.environment import TEMPLATES
from mfbench.paths import tasks_dir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

#: The demo task's committed records: small enough to build a site from twice in a test.
RESULT_FOLDERS = ("baselines/sevennet-r2scan-quick", "reference-models/sevennet-r2scan-quick")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout's package sources."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("mfbench", "baselines"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
        ],
        check=True,
        capture_output=True,
        cwd=work,
    )
    (built,) = (work / "dist").glob("mfbench-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """The wheel unpacked as a pure-Python install would lay it out."""
    target = wheel.parent.parent / "site-packages"
    zipfile.ZipFile(wheel).extractall(target)
    return target


def _mfbench(argv: list[str], *, python_path: Path | None, home: Path, cwd: Path) -> str:
    env = {**os.environ, "MFBENCH_HOME": str(home)}
    env.pop("MFBENCH_TASKS", None)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    done = subprocess.run(
        [sys.executable, "-m", "mfbench", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_the_wheel_holds_every_template_and_task_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = [f"mfbench/html/templates/{n}" for n in TEMPLATES] + [
        f"mfbench/tasks/shipped/{p.name}" for p in sorted(tasks_dir().glob("*.yaml"))
    ]
    assert len(expected) > len(TEMPLATES), "no shipped task files found"
    missing = [n for n in expected if n not in names]
    assert not missing, f"{wheel.name} lacks {missing}"


def test_the_installed_wheel_is_what_the_subprocesses_import(
    installed: Path, tmp_path: Path
) -> None:
    probe = "import mfbench, baselines; print(mfbench.__file__); print(baselines.__file__)"
    env = {**os.environ, "PYTHONPATH": str(installed)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert all(Path(line).is_relative_to(installed) for line in out), out


def test_the_installed_wheel_builds_the_same_site_as_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    for folder in RESULT_FOLDERS:
        shutil.copytree(ROOT / "leaderboard" / "results" / folder, results / folder)
    home = tmp_path / "home"  # one prepared store for both builds
    sites = {}
    for name, python_path in (("checkout", None), ("wheel", installed)):
        sites[name] = tmp_path / f"site-{name}"
        log = _mfbench(
            ["leaderboard", "build", "--results", str(results), "--out", str(sites[name])],
            python_path=python_path,
            home=home,
            cwd=tmp_path,
        )
        assert " 0 rejected, 0 not checked here" in log, log
    listing = _mfbench(["tasks", "list"], python_path=installed, home=home, cwd=tmp_path)
    rows = [row.split() for row in listing.splitlines()]
    shipped = sorted(row[0] for row in rows if row[1:2] == ["shipped"])
    assert shipped == sorted(p.stem for p in tasks_dir().glob("*.yaml"))
    files = sorted(p.relative_to(sites["checkout"]) for p in sites["checkout"].rglob("*"))
    assert files == sorted(p.relative_to(sites["wheel"]) for p in sites["wheel"].rglob("*"))
    _, mismatch, errors = filecmp.cmpfiles(
        sites["checkout"],
        sites["wheel"],
        [str(f) for f in files if (sites["checkout"] / f).is_file()],
        shallow=False,
    )
    assert not mismatch and not errors, (mismatch, errors)
