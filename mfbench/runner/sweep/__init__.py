"""``mfbench sweep``: a task's run matrix (methods × fractions × seeds), locally or on Slurm.

One run is one :func:`mfbench.runner.run` call, so a sweep's results land in the same run
folders as ``mfbench run``'s, under one ``out`` folder that ``mfbench leaderboard build
--results`` reads.

What a sweep does, in order:

1. **Plan and validate** (:mod:`~mfbench.runner.sweep.planning`): the task, every method
   (constructed with the ``params``, so an unknown hyperparameter is caught here), every
   fraction (one of the task's), every seed, the prepared dataset, and every existing
   ``result.json`` in the matrix. All problems are reported together and nothing is launched
   when there is one.
2. **Skip** the runs :func:`mfbench.runner.plan.plan_run` (the decision ``mfbench run``
   takes) would reuse: a record of schema :data:`mfbench.results.record.RESULT_SCHEMA` with the
   same hyperparameter hash, and its predictions file present with the sha256 it states
   (status ``skipped``). Anything less (an older schema, an unreadable record, missing
   predictions) is run again, with every run option of the sweep
   (:class:`mfbench.runner.options.RunOptions`); a complete record for other hyperparameters
   is a planning error naming its folder.
3. **Launch** the others and wait for them: ``local``
   (:mod:`~mfbench.runner.sweep.local`, one ``mfbench run`` subprocess per run, at most
   ``jobs`` at a time) or ``slurm`` (:mod:`~mfbench.runner.sweep.slurm`, one submitit array
   task per run, as DESIGN asks). Workers set the ``MFBENCH_*`` variables seen at planning
   time (``MFBENCH_HOME`` resolved), so jobs read the same prepared datasets and task files
   even when Slurm does not export the submitting environment.
4. **Record** each run's status, job id, log path and, for a failure, the exception's line
   in ``<out>/.sweep/<sweep id>.json`` (:mod:`~mfbench.runner.sweep.state`). The sweep id
   is ``<task>-<8 hex>`` of the task, its version, the sorted methods, fractions, seeds and
   the params, so the same sweep always finds its own state file whatever the executor.

Running the same command again relaunches every run that is not complete; with
``retry_failed`` only the runs the state file records as ``failed`` are relaunched (use it
while other runs of the sweep are still queued, so they are not submitted twice). The sweep
waits for its runs; if the waiting process is stopped, Slurm jobs keep running and the state
file keeps their job ids.
"""

from mfbench.runner.sweep.launch import ExecutorOptions, check_options, sweep, sweep_command
from mfbench.runner.sweep.local import LocalOptions
from mfbench.runner.sweep.planning import plan
from mfbench.runner.sweep.slurm import SlurmOptions, execute_run
from mfbench.runner.sweep.spec import RunSpec, SweepSpec
from mfbench.runner.sweep.state import STATUSES, SWEEP_SCHEMA, Plan, RunState, read_state

__all__ = [
    "STATUSES",
    "SWEEP_SCHEMA",
    "ExecutorOptions",
    "LocalOptions",
    "Plan",
    "RunSpec",
    "RunState",
    "SlurmOptions",
    "SweepSpec",
    "check_options",
    "execute_run",
    "plan",
    "read_state",
    "sweep",
    "sweep_command",
]
