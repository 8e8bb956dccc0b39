"""A task's signature is its input schema."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tally.errors import ConfigError, ValidationFailed
from tally.jobs import JobContext
from tally.jobs.schema import InputSchema


def report(day: date, ctx: JobContext, countries: list[str], limit: int = 10) -> None:
    """A task with a context parameter."""


def test_arguments_are_validated_and_typed() -> None:
    schema = InputSchema(report, skip=JobContext)
    model = schema.validate([], {"day": "2026-11-20", "countries": ["FR"]})
    assert schema.call_kwargs(model) == {
        "day": date(2026, 11, 20),
        "countries": ["FR"],
        "limit": 10,
    }
    assert schema.dump(model)["day"] == "2026-11-20"  # JSON on the wire
    assert schema.context_param == "ctx"


def test_positional_arguments_take_parameter_names() -> None:
    schema = InputSchema(report, skip=JobContext)
    values = schema.call_kwargs(schema.validate(["2026-11-20", ["DE"]], {"limit": 3}))
    assert values["countries"] == ["DE"]
    assert values["limit"] == 3


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "reason"),
    [
        ([], {"countries": []}, "kwargs.day", "missing"),
        ([], {"day": "nope", "countries": []}, "kwargs.day", "date_from_datetime_parsing"),
        (
            [],
            {"day": "2026-11-20", "countries": [], "colour": 1},
            "kwargs.colour",
            "unknown_argument",
        ),
        ([1, 2, 3, 4], {}, "args", "too_many_arguments"),
        (
            ["2026-11-20"],
            {"day": "2026-11-20", "countries": []},
            "kwargs.day",
            "duplicate_argument",
        ),
    ],
)
def test_bad_arguments_name_the_field(
    args: list[Any], kwargs: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        InputSchema(report, skip=JobContext).validate(args, kwargs)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_var_positional_parameters_are_refused_at_registration() -> None:
    def bad(*items: int) -> None: ...

    with pytest.raises(ConfigError, match=r"\*items"):
        InputSchema(bad)
