"""Submissions: metadata checked against a JSON Schema, compliance, and packing for review.

A submission is a metadata YAML file (schema ``mfbench/data/submission.schema.json``, every
object closed with ``additionalProperties: false``) plus the result records of one method.
:func:`pack_submission` validates both (records by recomputing their metrics), computes the
submission's compliance and writes one folder::

    <out>/<method>/
        submission.yaml        the metadata, byte for byte
        manifest.json          sha256 and size of every other file, the runs, the code, and
                               the compliance mfbench computed (a cache: the leaderboard
                               computes it again and rejects the submission when they differ)
        code/<module>.py       the method's module, whose sha256 every record states
        runs/<task>/v<version>/fraction-<f>/seed-<s>/result.json
        runs/<task>/v<version>/fraction-<f>/seed-<s>/predictions.npz

The records must have been produced by the code submitted: each record states the sha256 of
its method's module (``method.source``), and packing refuses records whose hash differs from
the module importable here.

Compliance is computed, never declared. The rule: a run may learn target-fidelity labels
(the task's ``target_fidelity``, r2SCAN) only from its own training fraction. A submission is
non-compliant when its metadata declares

- target-fidelity labels of the task's dataset beyond the training fraction (``frames`` other
  than ``train-fraction``), or target-fidelity labels of any other dataset;
- labels of another fidelity of the task's own dataset beyond what the task grants
  (its ``auxiliary_data`` scope; e.g. GGA labels of the test frames when only the train split
  is granted);
- a starting checkpoint known to be trained on target-fidelity labels
  (``mfbench/data/checkpoints.yaml``, e.g. CHGNet's released ``r2scan`` model, trained on
  all of MP-r2SCAN including its test materials);
- a run whose record shows such a checkpoint (a weights file it read, or a hyperparameter
  naming one; :func:`mfbench.results.compliance.non_compliance`);

or when it fails to declare what its records show it used: the target labels of the training
fraction (a run with training frames) and the auxiliary data its records list. Low-fidelity
data of other datasets (e.g. MPtrj) is allowed and shown. A declared starting checkpoint is
recognised by name or sha256; the checkpoints the runs actually read are in their records.
"""

from mfbench.submissions.compliance import Compliance, check_compliance
from mfbench.submissions.layout import MANIFEST, MANIFEST_SCHEMA, code_path, run_path, safe_name
from mfbench.submissions.metadata import (
    EXAMPLE_METADATA,
    METADATA,
    SUBMISSION_SCHEMA,
    SubmissionError,
    load_submission_meta,
    metadata_problems,
    submission_schema,
    url_problem,
)
from mfbench.submissions.pack import method_code, pack_submission, verify_manifest

__all__ = [
    "EXAMPLE_METADATA",
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "METADATA",
    "SUBMISSION_SCHEMA",
    "Compliance",
    "SubmissionError",
    "check_compliance",
    "code_path",
    "load_submission_meta",
    "metadata_problems",
    "method_code",
    "pack_submission",
    "run_path",
    "safe_name",
    "submission_schema",
    "url_problem",
    "verify_manifest",
]
