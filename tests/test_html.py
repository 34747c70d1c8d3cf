"""The HTML layer: templates are package data, found through the import system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mfbench.html
from mfbench.html.environment import TEMPLATE_FOLDER, TEMPLATES, environment, template_text

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_TEMPLATES = Path(mfbench.html.__file__).resolve().parent / TEMPLATE_FOLDER


def test_the_environment_loads_templates_from_the_package() -> None:
    env = environment()
    for name in TEMPLATES:
        _, filename, _ = env.loader.get_source(env, name)
        assert Path(filename).resolve().parent == PACKAGE_TEMPLATES, name
    assert template_text("sortable.js") == (PACKAGE_TEMPLATES / "sortable.js").read_text()


def test_the_template_list_names_every_shipped_template() -> None:
    assert sorted(p.name for p in PACKAGE_TEMPLATES.iterdir() if p.is_file()) == sorted(TEMPLATES)
    assert not (ROOT / "leaderboard" / "templates").exists()


def test_a_templates_folder_replaces_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "x.html.j2").write_text("<p>{{ value }}</p>")
    (tmp_path / "sortable.js").write_text("// other")
    assert environment(tmp_path).get_template("x.html.j2").render(value="<b>") == (
        "<p>&lt;b&gt;</p>"
    )
    assert template_text("sortable.js", tmp_path) == "// other"


def test_the_html_layer_imports_neither_the_leaderboard_nor_the_diagnostics() -> None:
    probe = (
        "import sys, mfbench.html.environment, mfbench.html.svg, mfbench.html.safety; "
        "print(sorted(m for m in sys.modules "
        "if m.startswith(('mfbench.leaderboard', 'mfbench.diagnostics'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_the_diagnostics_never_import_the_leaderboard() -> None:
    probe = (
        "import sys, mfbench.diagnostics, mfbench.diagnostics.page, mfbench.diagnostics.run; "
        "print(sorted(m for m in sys.modules if m.startswith('mfbench.leaderboard')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
