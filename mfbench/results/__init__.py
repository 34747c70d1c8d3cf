"""Result records: what one holds, validation by recomputation, tables and statistics.

:mod:`mfbench.results.record` (schema, field check, params hashes, run folder, header, reuse)
and :mod:`mfbench.results.predictions` (reading predictions files) import nothing above
:mod:`mfbench.tasks`, so that :mod:`mfbench.evaluation` and the runner can build records with
them; :mod:`mfbench.results.validation` recomputes a record's metrics with
:mod:`mfbench.evaluation`.
"""

from mfbench.results.aggregate import comparable, metric_columns, records_frame, summarize
from mfbench.results.validation import (
    ValidationReport,
    find_records,
    validate_record,
    validate_records,
)

__all__ = [
    "ValidationReport",
    "comparable",
    "find_records",
    "metric_columns",
    "records_frame",
    "summarize",
    "validate_record",
    "validate_records",
]
