"""Hyperparameters checked against a method's signature, and values against annotations."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Literal

import pytest

from mfbench.errors import MfbenchError
from mfbench.methods.params import check_params, method_parameters
from mfbench.type_check import conforms


class Base:
    def __init__(self, lr: float = 1e-3, epochs: int | None = None) -> None:
        self.lr, self.epochs = lr, epochs


class Child(Base):
    def __init__(self, start: Path, mode: Literal["a", "b"] = "a", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start, self.mode = start, mode


class Open:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def test_parameters_follow_kwargs_to_the_base_class() -> None:
    parameters, open_ended = method_parameters(Child)
    assert [p.describe() for p in parameters] == [
        "start: Path",
        "mode: Literal['a', 'b'] = 'a'",
        "lr: float = 0.001",
        "epochs: int | None = None",
    ]
    assert open_ended is False
    assert method_parameters(Open) == ([], True)


def test_check_params_names_every_problem_and_lists_the_parameters() -> None:
    check_params(Child, "child", {"start": "/models/x.pt", "lr": 1, "epochs": None})
    with pytest.raises(MfbenchError) as info:
        check_params(Child, "child", {"lr": "abc", "mode": "c", "momentum": 0.9})
    assert str(info.value).splitlines() == [
        "parameter lr of method child must be float, not 'abc' (str)",
        "parameter mode of method child must be Literal['a', 'b'], not 'c' (str)",
        "method child has no parameter 'momentum'",
        "method child needs parameter 'start' (no default)",
        "parameters of child:",
        "  start: Path",
        "  mode: Literal['a', 'b'] = 'a'",
        "  lr: float = 0.001",
        "  epochs: int | None = None",
    ]
    check_params(Open, "open", {"anything": 1})  # **kwargs passed on to no named parameter


def test_a_json_number_for_a_text_parameter_gets_a_hint() -> None:
    class Tagged:
        def __init__(self, tag: str = "x") -> None:
            self.tag = tag

    with pytest.raises(MfbenchError, match="""write tag='"1"' for text"""):
        check_params(Tagged, "tagged", {"tag": 1})


class Colour(Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "annotation", "fits"),
    [
        (1, float, True), (True, float, False), (True, int, False), (1, bool, False),
        ("x", str, True), (1, str, False), (None, int | None, True), ("1", int | None, False),
        ([1.0, 2.0], tuple[float, ...], True), ("abc", list[str], False),
        ({"a": 1}, dict[str, int], True), ([], dict, False),
        (True, Literal[1], False), (1, Literal[1], True),
        ("/x", Path, True), ("red", Colour, True), (3, Path, False),
    ],
)  # fmt: skip
def test_conforms(value: Any, annotation: Any, fits: bool) -> None:
    assert conforms(value, annotation) is fits
