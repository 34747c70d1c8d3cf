"""How the CLI prints: plain-text tables, JSON, and the metrics table of scored records."""

from __future__ import annotations

import json
from typing import Any

from mfbench.metrics.catalogue import RECORD_METRICS


def table(rows: list[dict[str, Any]]) -> str:
    """``rows`` as an aligned text table, one column per key; "(none)" when there are none."""
    import pandas as pd

    if not rows:
        return "(none)"
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return pd.DataFrame(rows).to_string(index=False)


def print_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON (values JSON cannot hold as their ``str``)."""
    print(json.dumps(payload, indent=2, default=str))


def metrics_row(record: dict[str, Any], subset: str) -> dict[str, Any]:
    """One table row of a scored record: model, test subset ("all", "covered"), n, each metric."""
    metrics = record["metrics"][subset]
    row: dict[str, Any] = {"model": record["model"]["name"], "test frames": subset}
    row["n"] = metrics.get("n_frames", 0)
    for metric in RECORD_METRICS:
        row[metric.header] = metric.format(metrics.get(metric.key))
    return row


def print_evaluations(records: list[dict[str, Any]]) -> None:
    """Print the records of one task and fraction: a header line, then all and covered rows."""
    rows = [metrics_row(r, subset) for r in records for subset in ("all", "covered")]
    first = records[0]
    task = first["task"]
    print(
        f"\n{task['name']} v{task['version']} test split "
        f"(split {task['split_fingerprint'][:16]}), labels: {task['target_fidelity']}; "
        f"covered = frames whose elements all occur in training fraction {first['fraction']} "
        f"({first['coverage']['covered_test_frames']}/{first['coverage']['test_frames']})"
    )
    print(table(rows))
