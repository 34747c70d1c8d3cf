"""Runs: one (task, fraction, method, seed) from training to a result record, and sweeps of them.

- :mod:`mfbench.runner.plan`: :func:`~mfbench.runner.plan.plan_run`, the one decision (start,
  resume, reuse a complete result, or refuse) that ``mfbench run`` and ``mfbench sweep`` share;
- :mod:`mfbench.runner.execute`: :func:`~mfbench.runner.execute.run` executes a plan (fit, predict,
  score, write the record);
- :mod:`mfbench.runner.options`: the run options (device, hyperparameters, data workers, force);
- :mod:`mfbench.runner.selection`: hyperparameters chosen on the validation split;
- :mod:`mfbench.runner.method_source`, :mod:`mfbench.runner.saved_method`: which code a method
  is, and a run folder's fitted method loaded back;
- :mod:`mfbench.runner.sweep`: the run matrix of a task, locally or on Slurm.

What a record holds and how it is checked live below, in :mod:`mfbench.results.record`.
"""

from mfbench.runner.execute import run
from mfbench.runner.options import RunOptions
from mfbench.runner.plan import Decision, PlannedMethod, RunPlan, plan_run

__all__ = ["Decision", "PlannedMethod", "RunOptions", "RunPlan", "plan_run", "run"]
