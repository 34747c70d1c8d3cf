"""Joint training of one CHGNet backbone with one readout head per fidelity, resuming exactly.

The multi-fidelity baseline (:mod:`baselines.multi_fidelity`) trains two CHGNet models that
share every submodule except their *heads*: the energy readout (``readout_norm`` and ``mlp``)
and the elemental reference (``composition_model``, an intensive ``AtomRef``). The
target-fidelity model is an ordinary ``chgnet.model.CHGNet`` (it is what the method
predicts, saves and loads with); :func:`fidelity_view` builds the other fidelity's model as a
second ``CHGNet`` object whose non-head submodules *are* the first one's module objects (one
parameter object each, so a gradient from either fidelity moves the same weights) and whose
head is its own copy. Forces and stresses are derivatives of each head's energy through the
shared backbone; magnetic moments come from ``site_wise``, a linear layer on the backbone's
atom features before the last convolution, and are therefore shared by both fidelities.

:func:`train_joint` follows :func:`baselines.training.train_chgnet` (same
:class:`~baselines.training.Recipe`, Adam, cosine schedule stepped per optimizer step,
chgnet's ``CombinedLoss``, per-epoch validation and checkpoint, a NaN stops the run). An
*epoch* is one pass over the target-fidelity loader; each optimizer step adds the gradients
of

    loss(target batch, target head) + w / r · Σ_{i=1..r} loss(aux batch i, aux head)

with ``r`` = ``aux_ratio`` auxiliary batches and ``w`` = ``aux_loss_weight``. Each term is
back-propagated as soon as it is computed (gradients add up; one batch's autograd graph
lives at a time). The auxiliary loader cycles on its own, pass after pass, in the order its
own seeded generator draws (:class:`CyclingBatches`); its position is checkpointed, so a
killed run resumes with the very batches it would have drawn.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from baselines.training import (
    TARGETS,
    Recipe,
    TrainingDivergedError,
    _mean_maes,
    add_maes,
    batch_loss,
    make_loss,
    restore_state,
    validate,
)
from mfbench.methods import EpochCheckpoint

logger = logging.getLogger(__name__)

#: CHGNet submodules that make up one fidelity's head; everything else is the shared backbone.
HEAD_MODULES = ("readout_norm", "mlp", "composition_model")

#: Part of the checkpoint key of joint runs: bump it when a change to this loop makes old
#: checkpoints unfit to resume from.
JOINT_LOOP_VERSION = 1


def fidelity_view(model: Any) -> Any:
    """A second ``CHGNet`` sharing ``model``'s backbone, with its own copy of the head.

    Every child module of ``model`` except :data:`HEAD_MODULES` is the *same* object in the
    view (shared parameters, shared ``graph_converter``); the head modules are deep copies,
    starting from ``model``'s current weights. The view is built on torch's meta device and
    then given ``model``'s children, so it draws nothing from the random number generator.

    Args:
        model: a ``chgnet.model.CHGNet``.

    Returns:
        The view, a ``chgnet.model.CHGNet`` on ``model``'s device.
    """
    import torch

    with torch.device("meta"):
        view = type(model)(**model.model_args)
    for name, child in model.named_children():
        setattr(view, name, copy.deepcopy(child) if name in HEAD_MODULES else child)
    leftover = [n for n, t in [*view.named_parameters(), *view.named_buffers()] if t.is_meta]
    if leftover:  # a child CHGNet builds but the loaded model lacks; never train on it
        raise RuntimeError(f"fidelity_view: {leftover} have no weights in the source model")
    view.train(model.training)
    return view


def head_state(model: Any) -> dict[str, Any]:
    """The state dicts of ``model``'s head modules (those that exist)."""
    return {
        name: getattr(model, name).state_dict()
        for name in HEAD_MODULES
        if getattr(model, name, None) is not None
    }


def load_head_state(model: Any, state: dict[str, Any]) -> None:
    """Load :func:`head_state`'s output into ``model``'s head modules."""
    for name, values in state.items():
        getattr(model, name).load_state_dict(values)


class CyclingBatches:
    """Endless batches of a loader, pass after pass, with a position that can be restored.

    Each pass is ordered by the loader's ``generator`` (a torch ``DataLoader`` draws from it
    when a pass starts). :meth:`state_dict` holds the generator's state at the start of the
    current pass and how many batches of it were taken; :meth:`load_state_dict` rewinds the
    generator and draws (reads and drops) those batches again, so the next batch is the one
    an uninterrupted run would get.

    Args:
        loader: a ``DataLoader`` with a ``generator`` (e.g. from
            :func:`baselines.finetune.graph_loader` with ``shuffle=True``) and ≥ 1 batch.
    """

    def __init__(self, loader: Any) -> None:
        if loader.generator is None or len(loader) == 0:
            raise ValueError("CyclingBatches needs a non-empty loader with a generator")
        self.loader = loader
        self.passes = 0  # finished passes
        self.taken = 0  # batches taken in the current pass
        self._pass_start = loader.generator.get_state()
        self._iterator: Any = None

    def __iter__(self) -> CyclingBatches:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._pass_start = self.loader.generator.get_state()
            self._iterator = iter(self.loader)
            self.taken = 0
        try:
            batch = next(self._iterator)
        except StopIteration:
            self._iterator = None
            self.passes += 1
            return next(self)
        self.taken += 1
        return batch

    @property
    def batches_taken(self) -> int:
        """Batches drawn since the start, over all passes."""
        return self.passes * len(self.loader) + self.taken

    def state_dict(self) -> dict[str, Any]:
        """The position: passes finished, batches taken in this pass, its generator state."""
        if self._iterator is None:  # between passes: the next pass starts from here
            return {"passes": self.passes, "taken": 0,
                    "pass_start": self.loader.generator.get_state()}  # fmt: skip
        return {"passes": self.passes, "taken": self.taken, "pass_start": self._pass_start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s position."""
        self.loader.generator.set_state(state["pass_start"])
        self.passes, self._iterator, self.taken = state["passes"], None, 0
        for _ in range(state["taken"]):
            next(self)


def train_joint(
    model: Any,
    aux_model: Any,
    train_loader: Any,
    aux_loader: Any,
    val_loader: Any,
    recipe: Recipe,
    *,
    aux_ratio: int,
    aux_loss_weight: float,
    device: str,
    checkpoint_dir: Path | None,
    tag: str,
    key: str,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train ``model`` and ``aux_model`` (one backbone, two heads) together, in place.

    It takes ``recipe.epochs`` passes over ``train_loader`` or ``recipe.max_steps``
    optimizer steps, whichever is fewer; every step draws ``aux_ratio`` batches from
    ``aux_loader`` (cycled, see :class:`CyclingBatches`). After every (possibly partial)
    epoch it validates ``model`` on ``val_loader`` and writes ``<checkpoint_dir>/<tag>.pt``
    (both models' weights, optimizer, scheduler, history, the torch random state and both
    loaders' positions); a checkpoint with the same ``key`` is resumed from.

    Args:
        model: the target-fidelity ``chgnet.model.CHGNet``.
        aux_model: the auxiliary fidelity's model, from :func:`fidelity_view` of ``model``.
        train_loader: target-fidelity batches, as from :func:`baselines.finetune.graph_loader`
            (its ``generator`` orders them and is checkpointed).
        aux_loader: auxiliary-fidelity batches, with their own ``generator``.
        val_loader: target-fidelity validation batches, scored with ``model`` every epoch.
        recipe: optimiser, schedule and loss (the same for both fidelities); both AtomRefs
            receive gradients only if ``recipe.train_atomref``.
        aux_ratio: auxiliary batches per optimizer step (≥ 1).
        aux_loss_weight: ``w``, the weight of the auxiliary loss (the mean over its batches).
        device: torch device of the models.
        checkpoint_dir: folder for ``<tag>.pt``; None trains without checkpoints.
        tag: the checkpoint's name.
        key: identifies the run; only a checkpoint with the same key is resumed.
        progress: show progress bars.

    Returns:
        One entry per epoch: ``epoch``, ``steps`` (optimizer steps so far), ``seconds``,
        ``train_seconds``, ``data_seconds`` (waiting for either loader), ``train`` and ``val``
        (``model``'s MAEs of energy eV/atom, forces eV/Å, stress GPa, magmoms μB on the
        target-fidelity batches), and ``aux``: ``loss`` (mean auxiliary loss of the epoch,
        before the weight), ``train`` (``aux_model``'s MAEs on its batches, same units) and
        ``batches`` (auxiliary batches drawn so far).

    Raises:
        TrainingDivergedError: a loss is NaN or infinite; the message names the epoch, batch
            and fidelity.
        ValueError: ``aux_ratio`` < 1.
    """
    import torch

    if aux_ratio < 1:
        raise ValueError(f"aux_ratio must be at least 1, got {aux_ratio}")
    model.to(device)  # moves the shared backbone too, in place
    aux_model.to(device)
    for head in (model, aux_model):
        for parameter in head.composition_model.parameters():
            parameter.requires_grad = recipe.train_atomref
    steps_per_epoch = len(train_loader)
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    epochs = math.ceil(total_steps / steps_per_epoch)
    # shared parameters once, in a fixed order: the target model's, then the aux head's
    parameters = list(dict.fromkeys([*model.parameters(), *aux_model.parameters()]))
    optimizer = torch.optim.Adam(parameters, recipe.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=recipe.decay_fraction * recipe.learning_rate
    )
    loss_fn = make_loss(recipe)
    generator = getattr(train_loader, "generator", None)
    aux_batches = CyclingBatches(aux_loader)
    checkpoint = EpochCheckpoint(checkpoint_dir, tag, key)
    history: list[dict[str, Any]] = []

    state = checkpoint.load()
    if state is not None:
        history = restore_state(state, model, optimizer, scheduler, generator)
        load_head_state(aux_model, state["aux_head"])
        aux_batches.load_state_dict(state["aux_loader"])
        if history:
            logger.info("%s: resuming after epoch %d of %d", tag, len(history), epochs)
    done = history[-1]["steps"] if history else 0
    for epoch in range(len(history), epochs):
        started = time.perf_counter()
        model.train()
        aux_model.train()
        sums, sizes = dict.fromkeys(TARGETS, 0.0), dict.fromkeys(TARGETS, 0)
        aux_sums, aux_sizes = dict.fromkeys(TARGETS, 0.0), dict.fromkeys(TARGETS, 0)
        aux_loss_sum, aux_count = 0.0, 0
        bar = tqdm(
            train_loader, desc=f"{tag} epoch {epoch + 1}/{epochs}", unit="step",
            total=min(steps_per_epoch, total_steps - done), disable=not progress, leave=False,
        )  # fmt: skip
        data_seconds, waiting = 0.0, time.perf_counter()
        for step, (graphs, targets) in enumerate(bar, start=1):
            data_seconds += time.perf_counter() - waiting
            optimizer.zero_grad()
            out = batch_loss(model, loss_fn, graphs, targets, device=device)
            _check_finite(out["loss"], tag, epoch, step, "target")
            out["loss"].backward()
            add_maes(sums, sizes, out)
            loss_value = out["loss"].item()
            del graphs, targets, out  # free the target batch's graph before the aux batches
            for _ in range(aux_ratio):
                waiting = time.perf_counter()
                aux_graphs, aux_targets = next(aux_batches)
                data_seconds += time.perf_counter() - waiting
                aux_out = batch_loss(aux_model, loss_fn, aux_graphs, aux_targets, device=device)
                _check_finite(aux_out["loss"], tag, epoch, step, "auxiliary")
                (aux_out["loss"] * (aux_loss_weight / aux_ratio)).backward()
                add_maes(aux_sums, aux_sizes, aux_out)
                aux_loss_sum += aux_out["loss"].item()
                aux_count += 1
                del aux_graphs, aux_targets, aux_out
            optimizer.step()
            scheduler.step()
            done += 1
            bar.set_postfix(loss=f"{loss_value:.3g}", e_mae=f"{sums['e'] / sizes['e']:.3g}")
            if done == total_steps:
                break
            waiting = time.perf_counter()
        bar.close()
        train_seconds = time.perf_counter() - started
        train_mae = _mean_maes(sums, sizes)
        val_mae = validate(model, val_loader, loss_fn, device=device, progress=progress)
        aux = {"loss": aux_loss_sum / aux_count, "train": _mean_maes(aux_sums, aux_sizes),
               "batches": aux_batches.batches_taken}  # fmt: skip
        history.append(
            {"epoch": epoch + 1, "steps": done,
             "seconds": round(time.perf_counter() - started, 3),
             "train_seconds": round(train_seconds, 3), "data_seconds": round(data_seconds, 3),
             "train": train_mae, "val": val_mae, "aux": aux}
        )  # fmt: skip
        logger.info(
            "%s epoch %d/%d: train E MAE %.4f eV/atom, val E MAE %.4f eV/atom, F %.4f eV/Å; "
            "auxiliary loss %.4f", tag, epoch + 1, epochs, train_mae["e"], val_mae["e"],
            val_mae["f"], aux["loss"],
        )  # fmt: skip
        checkpoint.save(
            {"model": model.state_dict(), "aux_head": head_state(aux_model),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "torch_rng": torch.get_rng_state(),
             "loader_rng": generator.get_state() if generator is not None else None,
             "aux_loader": aux_batches.state_dict(), "history": history,
             "recipe": asdict(recipe), "aux_ratio": aux_ratio,
             "aux_loss_weight": aux_loss_weight}
        )  # fmt: skip
    return history


def _check_finite(loss: Any, tag: str, epoch: int, step: int, which: str) -> None:
    import torch

    if not torch.isfinite(loss):
        raise TrainingDivergedError(
            f"{tag}: {which}-fidelity training loss is {loss.item()} at epoch {epoch + 1}, "
            f"batch {step}; lower the learning rate"
        )
