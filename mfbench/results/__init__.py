"""Result records: validation by recomputation, tables, comparable subsets and statistics."""

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
