"""The fitted method a run folder saved, loaded back to predict (``mfbench evaluate --run``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mfbench.errors import MfbenchError
from mfbench.methods import Method, get_method


def load_saved_method(folder: Path, device: str = "cpu") -> Method:
    """The fitted method of a run folder (its ``method.json`` names the class), on ``device``.

    Raises:
        MfbenchError: the folder is not a run folder, its ``method.json`` is malformed, or it
            holds no saved model (committed results keep records and predictions, not weights).
    """
    folder = Path(folder)
    try:
        info = json.loads((folder / "method.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MfbenchError(f"{folder} is not a run folder (it has no method.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MfbenchError(f"{folder / 'method.json'} cannot be read ({exc})") from exc
    if not isinstance(info, dict) or not isinstance(info.get("class"), str):
        raise MfbenchError(f'{folder / "method.json"} names no method class ("class")')
    if not (folder / "model").is_dir():
        raise MfbenchError(
            f"{folder} holds no saved model (model/): it was removed, or the folder holds "
            "results only, as committed results do; run it again with `mfbench run` to score it"
        )
    return get_method(info["class"]).load(folder / "model", device=device)


class MethodPredictor:
    """Adapts a fitted :class:`Method` to :class:`mfbench.evaluation.Predictor`."""

    def __init__(self, method: Method) -> None:
        self.method = method
        self.name = type(method).name or type(method).__name__

    def describe(self) -> dict[str, Any]:
        """Name, class and hyperparameters."""
        cls = type(self.method)
        return {"name": self.name, "class": f"{cls.__module__}:{cls.__qualname__}",
                "params": self.method.get_params()}  # fmt: skip

    def predict(self, structures: Any, *, progress: bool = True) -> Any:
        """The method's predictions (progress bars are the method's own)."""
        return self.method.predict(structures)
