"""The training loop of the gradient-trained baselines, with checkpoints that resume exactly.

It follows chgnet's ``Trainer`` recipe (Adam; cosine annealing from the learning rate down to
``decay_fraction`` × lr over the whole training; chgnet's ``CombinedLoss`` with a Huber
criterion), with two departures that a fixed budget needs: the budget's ``max_steps`` is a hard
cap on optimizer steps (training may stop inside an epoch), and the cosine schedule is stepped
after every optimizer step over the steps actually taken (chgnet steps it ten times per epoch
over ten times the epochs, the same curve in coarser stairs). It adds what a benchmark run
needs:

- a checkpoint after every epoch (model, optimizer, scheduler, history, and the torch and
  data-order random states), written atomically; a run killed at any point resumes from the
  last finished epoch and ends with the same weights as an uninterrupted run (on CPU);
- a checkpoint whose ``key`` differs (other hyperparameters, other frames, other seed) is
  never resumed from: it is replaced, with a warning;
- a progress bar per epoch and a per-epoch history of train and validation MAEs;
- a loud error when the loss turns NaN, naming the epoch.

The final weights are returned (no best-epoch selection: that would need the validation
split to pick a model, which some methods may want and others not).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mfbench.methods import EpochCheckpoint, FitDivergedError

logger = logging.getLogger(__name__)

#: MAE keys of chgnet's CombinedLoss, in its order.
TARGETS = "efsm"

#: Part of every checkpoint key: bump it when a change to this loop makes old checkpoints
#: unfit to resume from.
LOOP_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """Optimiser, schedule and loss of one training stage.

    Attributes:
        epochs: passes over the training frames.
        max_steps: hard cap on optimizer steps (None: ``epochs`` full passes).
        learning_rate: Adam's initial learning rate.
        decay_fraction: the cosine schedule's final learning rate as a fraction of the first.
        energy_loss_ratio, force_loss_ratio, stress_loss_ratio, mag_loss_ratio: loss weights
            of energy (eV/atom), forces (eV/Å), stress (GPa) and magmoms (μB).
        huber_delta: δ of the Huber loss.
        train_atomref: whether the AtomRef (composition model) receives gradients.
    """

    epochs: int
    max_steps: int | None = None
    learning_rate: float = 1e-3
    decay_fraction: float = 1e-2
    energy_loss_ratio: float = 3.0
    force_loss_ratio: float = 1.0
    stress_loss_ratio: float = 0.1
    mag_loss_ratio: float = 1.0
    huber_delta: float = 0.1
    train_atomref: bool = False


class TrainingDivergedError(FitDivergedError):
    """The loss became NaN or infinite."""


def _move(value: Any, device: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_move(v, device) for v in value]
    return value.to(device)


def _mean_maes(sums: dict[str, float], sizes: dict[str, int]) -> dict[str, float]:
    return {k: (sums[k] / sizes[k] if sizes[k] else math.nan) for k in TARGETS}


def make_loss(recipe: Recipe) -> Any:
    """The ``CombinedLoss`` of chgnet over e/f/s/m, with the recipe's Huber δ and loss weights."""
    from chgnet.trainer.trainer import CombinedLoss

    return CombinedLoss(
        target_str=TARGETS, criterion="Huber", delta=recipe.huber_delta,
        energy_loss_ratio=recipe.energy_loss_ratio, force_loss_ratio=recipe.force_loss_ratio,
        stress_loss_ratio=recipe.stress_loss_ratio, mag_loss_ratio=recipe.mag_loss_ratio,
    )  # fmt: skip


def batch_loss(
    model: Any, loss_fn: Any, graphs: list[Any], targets: dict[str, Any], *, device: str
) -> dict[str, Any]:
    """One batch through ``model`` (e/f/s/m) on ``device`` and ``loss_fn``'s output.

    Args:
        model: a ``chgnet.model.CHGNet``.
        loss_fn: from :func:`make_loss`.
        graphs: the batch's CHGNet graphs (one ``(graphs, targets)`` batch of a graph
            loader, on CPU).
        targets: the batch's labels (``e``, ``f``, ``s``, ``m``).
        device: the model's torch device.

    Returns:
        ``CombinedLoss``'s dict: ``loss`` (a scalar tensor with its autograd graph) and
        ``<k>_MAE``, ``<k>_MAE_size`` for k in e/f/s/m.
    """
    for graph in graphs:
        graph.atom_frac_coord.requires_grad = True
    graphs = [g.to(device) for g in graphs]
    targets = {k: _move(v, device) for k, v in targets.items()}
    return loss_fn(targets, model(graphs, task=TARGETS))


def add_maes(sums: dict[str, float], sizes: dict[str, int], out: dict[str, Any]) -> None:
    """Add one batch's MAEs (``out`` of :func:`batch_loss`), weighted by their sizes."""
    for k in TARGETS:
        sums[k] += float(out[f"{k}_MAE"]) * out[f"{k}_MAE_size"]
        sizes[k] += int(out[f"{k}_MAE_size"])


def restore_state(
    state: dict[str, Any], model: Any, optimizer: Any, scheduler: Any, generator: Any
) -> list[dict[str, Any]]:
    """Load a checkpoint's model, optimizer, scheduler and random states; its history.

    ``generator`` is the training loader's (None when it has none).
    """
    import torch

    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if generator is not None:
        generator.set_state(state["loader_rng"])
    return state["history"]


def train_chgnet(
    model: Any,
    train_loader: Any,
    val_loader: Any,
    recipe: Recipe,
    *,
    device: str,
    checkpoint_dir: Path | None,
    tag: str,
    key: str,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train ``model`` in place, resuming from a matching checkpoint.

    It takes ``recipe.epochs`` passes over ``train_loader`` or ``recipe.max_steps`` optimizer
    steps, whichever is fewer, validating and checkpointing after every (possibly partial)
    epoch.

    Args:
        model: a ``chgnet.model.CHGNet`` on ``device``; parameters with ``requires_grad``
            False stay frozen (the AtomRef's flag is set from ``recipe.train_atomref``).
        train_loader: loader of (graphs, targets) batches, as from
            :func:`baselines.finetune.graph_loader`; its ``generator`` (if any) orders the
            batches and is checkpointed.
        val_loader: loader of the validation batches, scored after every epoch.
        recipe: optimiser, schedule and loss.
        device: torch device of the model.
        checkpoint_dir: folder for ``<tag>.pt``; None trains without checkpoints.
        tag: the stage's name (one checkpoint per stage).
        key: identifies the run (hyperparameters, frames, seed): only a checkpoint with the
            same key is resumed.
        progress: show progress bars.

    Returns:
        One entry per epoch: ``epoch``, ``steps`` (optimizer steps so far), ``seconds`` (the
        whole epoch, validation included), ``train_seconds`` (the training pass),
        ``data_seconds`` (the part of it spent waiting for batches), and the ``train`` and
        ``val`` MAEs of energy (eV/atom), forces (eV/Å), stress (GPa) and magmoms (μB).

    Raises:
        TrainingDivergedError: the training loss is NaN or infinite; the message names the epoch.
    """
    import torch

    model.to(device)  # before the optimizer, so that its state lives where the weights do
    for parameter in model.composition_model.parameters():
        parameter.requires_grad = recipe.train_atomref
    steps_per_epoch = len(train_loader)
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    epochs = math.ceil(total_steps / steps_per_epoch)
    optimizer = torch.optim.Adam(model.parameters(), recipe.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=recipe.decay_fraction * recipe.learning_rate
    )
    loss_fn = make_loss(recipe)
    generator = getattr(train_loader, "generator", None)
    checkpoint = EpochCheckpoint(checkpoint_dir, tag, key)
    history: list[dict[str, Any]] = []

    state = checkpoint.load()
    if state is not None:
        history = restore_state(state, model, optimizer, scheduler, generator)
        if history:
            logger.info("%s: resuming after epoch %d of %d", tag, len(history), epochs)
    done = history[-1]["steps"] if history else 0
    for epoch in range(len(history), epochs):
        started = time.perf_counter()
        model.train()
        sums, sizes = dict.fromkeys(TARGETS, 0.0), dict.fromkeys(TARGETS, 0)
        bar = tqdm(
            train_loader, desc=f"{tag} epoch {epoch + 1}/{epochs}", unit="batch",
            total=min(steps_per_epoch, total_steps - done), disable=not progress, leave=False,
        )  # fmt: skip
        data_seconds, waiting = 0.0, time.perf_counter()
        for step, (graphs, targets) in enumerate(bar, start=1):
            data_seconds += time.perf_counter() - waiting
            out = batch_loss(model, loss_fn, graphs, targets, device=device)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"{tag}: training loss is {loss.item()} at epoch {epoch + 1}, "
                    f"batch {step}; lower the learning rate"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            done += 1
            add_maes(sums, sizes, out)
            bar.set_postfix(loss=f"{loss.item():.3g}", e_mae=f"{sums['e'] / sizes['e']:.3g}")
            # free this step's batch and autograd graph before the next batch is read
            del graphs, targets, out, loss
            if done == total_steps:
                break
            waiting = time.perf_counter()
        bar.close()
        train_seconds = time.perf_counter() - started
        train_mae = _mean_maes(sums, sizes)
        val_mae = validate(model, val_loader, loss_fn, device=device, progress=progress)
        history.append(
            {"epoch": epoch + 1, "steps": done,
             "seconds": round(time.perf_counter() - started, 3),
             "train_seconds": round(train_seconds, 3), "data_seconds": round(data_seconds, 3),
             "train": train_mae,
             "val": val_mae}
        )  # fmt: skip
        logger.info(
            "%s epoch %d/%d: train E MAE %.4f eV/atom, val E MAE %.4f eV/atom, F %.4f eV/Å",
            tag, epoch + 1, epochs, train_mae["e"], val_mae["e"], val_mae["f"],
        )  # fmt: skip
        checkpoint.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
             "loader_rng": generator.get_state() if generator is not None else None,
             "history": history, "recipe": asdict(recipe)}
        )  # fmt: skip
    return history


def validate(
    model: Any, loader: Any, loss_fn: Any, *, device: str, progress: bool = True
) -> dict[str, float]:
    """MAEs of energy (eV/atom), forces (eV/Å), stress (GPa), magmoms (μB) over ``loader``."""
    model.eval()
    sums, sizes = dict.fromkeys(TARGETS, 0.0), dict.fromkeys(TARGETS, 0)
    for graphs, targets in tqdm(
        loader, desc="validate", unit="batch", disable=not progress, leave=False
    ):
        out = batch_loss(model, loss_fn, graphs, targets, device=device)
        add_maes(sums, sizes, out)
        # free this batch and its autograd graph before the next batch is read and run
        del graphs, targets, out
    return _mean_maes(sums, sizes)
