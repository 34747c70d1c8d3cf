"""Fine-tuning a SevenNet model with sevenn's own trainer, for a fixed budget, resuming exactly.

The recipe is sevenn's ``fine_tune`` preset (``sevenn/presets/fine_tune.yaml``): Adam, an
exponential learning-rate decay stepped once per epoch (γ 0.99), Huber loss (δ 0.01) on energy
per atom (eV/atom), forces (eV/Å) and stress (kbar) with weights 1 / 1 / 0.01, the species-wise
shift and scale frozen. The optimiser, schedule and losses come from sevenn's
``Trainer.from_config``; every epoch is sevenn's ``Trainer.run_one_epoch`` over batches of
sevenn graphs (:func:`mfbench.models.sevenn.graphs.labelled_graphs`, collated by
torch_geometric's loader). What a benchmark run adds around it:

- the budget: ``epochs`` passes or ``max_steps`` optimizer steps, whichever is fewer (the last
  epoch may stop early: it is handed only the batches still allowed);
- a seeded data order (a ``torch.Generator`` seeded with the run's seed);
- a checkpoint after every epoch (model, optimizer, scheduler, data-order and torch random
  states, history), written atomically and resumed only by a run with the same key: a run
  killed at any point ends with the same weights as an uninterrupted one (on CPU);
- a per-epoch history of train and validation MAEs, and a loud error when the loss turns NaN.

Determinism: sevenn's training draws no random numbers of its own (no dropout; its config's
``random_seed`` only seeds its command-line runs), and on CPU its scatter sums are sequential, so
two fits with the same seed end with identical weights (checked with 1 and 2 threads). On CUDA
the scatter sums use atomic adds and differ in the last bits from run to run.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mfbench.data.frameset import FrameSet
from mfbench.errors import MfbenchError
from mfbench.models.sevenn.graphs import labelled_graphs
from mfbench.models.sevenn.resume import EpochCheckpoint, run_key, state_digest

logger = logging.getLogger(__name__)

#: Part of every checkpoint key: bump it when a change to this loop makes old checkpoints
#: unfit to resume from.
LOOP_VERSION = 1

#: History keys of the MAEs → sevenn's error-recorder metric names.
#: e: energy (eV/atom), f: forces (eV/Å), s: stress (GPa), loss: sevenn's total loss.
METRICS = {"e": "Energy_MAE", "f": "Force_MAE", "s": "Stress_MAE", "loss": "TotalLoss"}


class TrainingDivergedError(MfbenchError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class Recipe:
    """Budget, optimiser, schedule and loss of one fine-tuning stage (sevenn's names in brackets).

    Attributes:
        epochs: passes over the training frames.
        max_steps: hard cap on optimizer steps (None: ``epochs`` full passes).
        batch_size: frames per optimizer step.
        learning_rate: Adam's initial learning rate (``optim_param.lr``).
        lr_decay: the learning rate's factor per epoch (``scheduler_param.gamma`` of
            ``exponentiallr``).
        huber_delta: δ of the Huber loss (``loss_param.delta``), in each target's loss units.
        force_loss_weight: weight of the force loss (energy's is 1).
        stress_loss_weight: weight of the stress loss (stress in kbar inside sevenn's loss).
    """

    epochs: int
    batch_size: int
    max_steps: int | None = None
    learning_rate: float = 1e-3
    lr_decay: float = 0.99
    huber_delta: float = 0.01
    force_loss_weight: float = 1.0
    stress_loss_weight: float = 0.01

    def sevenn_config(self, device: str) -> dict[str, Any]:
        """The training part of a sevenn config (``sevenn._keys`` names) for this recipe."""
        import sevenn._keys as key

        return {
            key.LOSS: "huber", key.LOSS_PARAM: {"delta": self.huber_delta},
            key.FORCE_WEIGHT: self.force_loss_weight, key.STRESS_WEIGHT: self.stress_loss_weight,
            key.IS_TRAIN_STRESS: True, key.USE_WEIGHT: False,
            key.OPTIMIZER: "adam", key.OPTIM_PARAM: {"lr": self.learning_rate},
            key.SCHEDULER: "exponentiallr", key.SCHEDULER_PARAM: {"gamma": self.lr_decay},
            key.DEVICE: device, key.IS_DDP: False,
            key.ERROR_RECORD: [["Energy", "MAE"], ["Force", "MAE"], ["Stress_GPa", "MAE"],
                               ["TotalLoss", "None"]],
        }  # fmt: skip


def train_sevennet(
    model: Any,
    train: FrameSet,
    val: FrameSet,
    recipe: Recipe,
    *,
    seed: int,
    device: str,
    checkpoint_dir: Path | None,
    tag: str = "train",
    identity: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fine-tune ``model`` in place with sevenn's trainer, resuming from a matching checkpoint.

    Args:
        model: a single-fidelity ``AtomGraphSequential`` (e.g. from
            :func:`mfbench.models.sevenn.load_sevennet`), its shift set as the method wants;
            parameters with ``requires_grad`` False (the shift and scale) stay frozen.
        train: the training frames (labels at their fidelity).
        val: the validation frames, scored after every epoch.
        recipe: budget, optimiser, schedule and loss.
        seed: seeds the order of the training batches.
        device: torch device.
        checkpoint_dir: folder for ``<tag>.pt``; None trains without checkpoints.
        tag: the stage's name (one checkpoint per stage).
        identity: what else distinguishes this run (method name, hyperparameters); with the
            recipe, seed, frames, the model's starting weights, sevenn's version and
            :data:`LOOP_VERSION` it keys the checkpoint.
        progress: show progress bars.

    Returns:
        One entry per epoch: ``epoch``, ``steps`` (optimizer steps so far), ``lr`` (the
        epoch's learning rate), ``seconds`` (the epoch, validation included),
        ``train_seconds``, ``data_seconds`` (waiting for batches), and the ``train`` and
        ``val`` values of :data:`METRICS`.

    Raises:
        TrainingDivergedError: the training loss or the weights are not finite after an epoch;
            the message names the epoch. Nothing of that epoch is checkpointed.
    """
    import sevenn
    import torch
    from sevenn.error_recorder import ErrorRecorder
    from sevenn.train.trainer import Trainer
    from torch_geometric.loader import DataLoader

    key = run_key({
        **(identity or {}), "loop": LOOP_VERSION, "sevenn": sevenn.__version__,
        "recipe": asdict(recipe), "seed": seed, "tag": tag, "train": train.fingerprint,
        "val": val.fingerprint, "start": state_digest(model),
    })  # fmt: skip
    config = recipe.sevenn_config(device)
    trainer = Trainer.from_config(model, config)  # moves the model, then builds the optimizer
    generator = torch.Generator()
    generator.manual_seed(seed)
    train_loader = DataLoader(
        labelled_graphs(train, model.cutoff), recipe.batch_size, shuffle=True, generator=generator
    )
    val_loader = DataLoader(labelled_graphs(val, model.cutoff), recipe.batch_size, shuffle=False)
    recorders = {
        split: ErrorRecorder.from_config(config, trainer.loss_functions)
        for split in ("train", "val")
    }
    steps_per_epoch = len(train_loader)
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    epochs = math.ceil(total_steps / steps_per_epoch)

    checkpoint = EpochCheckpoint(checkpoint_dir, tag, key)
    history: list[dict[str, Any]] = []
    state = checkpoint.load()
    if state is not None:
        trainer.load_state_dicts(
            state["model_state_dict"], state["optimizer_state_dict"], state["scheduler_state_dict"]
        )
        torch.set_rng_state(state["torch_rng"])
        generator.set_state(state["loader_rng"])
        history = state["history"]
        logger.info("%s: resuming after epoch %d of %d", tag, len(history), epochs)
    done = history[-1]["steps"] if history else 0
    for epoch in range(len(history), epochs):
        started = time.perf_counter()
        lr = trainer.get_lr()
        allowed = min(steps_per_epoch, total_steps - done)
        waited: list[float] = []
        batches = tqdm(
            _timed(itertools.islice(train_loader, allowed), waited), total=allowed,
            desc=f"{tag} epoch {epoch + 1}/{epochs}", unit="batch", disable=not progress,
            leave=False,
        )  # fmt: skip
        trainer.run_one_epoch(batches, is_train=True, error_recorder=recorders["train"])
        batches.close()
        done += allowed
        train_seconds = time.perf_counter() - started
        train_values = _values(recorders["train"])
        _check_finite(model, train_values["loss"], tag, epoch)
        trainer.run_one_epoch(val_loader, is_train=False, error_recorder=recorders["val"])
        trainer.scheduler_step()
        history.append({
            "epoch": epoch + 1, "steps": done, "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
            "train_seconds": round(train_seconds, 3), "data_seconds": round(sum(waited), 3),
            "train": train_values, "val": _values(recorders["val"]),
        })  # fmt: skip
        logger.info(
            "%s epoch %d/%d: train E MAE %.4f eV/atom, val E MAE %.4f eV/atom, F %.4f eV/Å",
            tag, epoch + 1, epochs, train_values["e"], history[-1]["val"]["e"],
            history[-1]["val"]["f"],
        )  # fmt: skip
        checkpoint.save({  # sevenn's own checkpoint fields, and what resuming exactly needs
            **trainer.get_checkpoint_dict(), "torch_rng": torch.get_rng_state(),
            "loader_rng": generator.get_state(), "history": history,
        })  # fmt: skip
    model.eval()
    return history


def _timed(batches: Iterable[Any], waited: list[float]) -> Iterator[Any]:
    """Yield ``batches``, appending the seconds spent waiting for each to ``waited``."""
    iterator = iter(batches)
    while True:
        tick = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            return
        waited.append(time.perf_counter() - tick)
        yield batch


def _values(recorder: Any) -> dict[str, float]:
    """The recorder's epoch values by :data:`METRICS` key; resets it for the next epoch."""
    by_name = {metric.name: float(metric.get()) for metric in recorder.metrics}
    recorder.epoch_forward()
    return {short: by_name[name] for short, name in METRICS.items()}


def _check_finite(model: Any, loss: float, tag: str, epoch: int) -> None:
    import torch

    weights_finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if not (math.isfinite(loss) and weights_finite):
        raise TrainingDivergedError(
            f"{tag}: training loss is {loss} after epoch {epoch + 1} (weights "
            f"{'finite' if weights_finite else 'not finite'}); lower the learning rate"
        )
