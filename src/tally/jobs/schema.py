"""A task's signature as its input schema: arguments are checked before they are enqueued."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from tally.errors import ConfigError, ValidationFailed


class InputSchema:
    """Validates a call's arguments against a function's parameters (pydantic)."""

    def __init__(self, fn: Callable[..., Any], skip: type | None = None) -> None:
        self.name = getattr(fn, "__qualname__", repr(fn))
        signature = inspect.signature(fn)
        hints = get_type_hints(fn, include_extras=True)  # keep Annotated validators
        fields: dict[str, Any] = {}
        self.context_param: str | None = None
        extra: Literal["allow", "forbid"] = "forbid"
        for param in signature.parameters.values():
            hint = hints.get(param.name, Any)
            if skip is not None and hint is skip:
                self.context_param = param.name  # given by the worker, not by the caller
                continue
            if param.kind is param.VAR_POSITIONAL:
                raise ConfigError(f"task {self.name}: *{param.name} is not supported; name them")
            if param.kind is param.VAR_KEYWORD:
                extra = "allow"
                continue
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (hint, default)
        self.params = [n for n in fields]
        config = ConfigDict(extra=extra, arbitrary_types_allowed=False)
        self.model: type[BaseModel] = create_model(
            f"{fn.__name__}_input", __config__=config, **fields
        )

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional arguments given names, merged with the keyword ones."""
        if len(args) > len(self.params):
            raise ValidationFailed(
                "args",
                "too_many_arguments",
                f"{self.name} takes {len(self.params)} argument(s), {len(args)} given",
            )
        named = dict(zip(self.params, args, strict=False))
        for name in named:
            if name in kwargs:
                raise ValidationFailed(
                    f"kwargs.{name}", "duplicate_argument", f"{name} given twice"
                )
        return {**named, **kwargs}

    def validate(self, args: list[Any], kwargs: dict[str, Any]) -> BaseModel:
        """The validated arguments; ValidationFailed names the first bad field."""
        values = self.bind(args, kwargs)
        try:
            return self.model.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "kwargs"
            reason = "unknown_argument" if first["type"] == "extra_forbidden" else first["type"]
            message = f"{where}: {first['msg']}"
            raise ValidationFailed(f"kwargs.{where}", reason, message) from None

    def dump(self, model: BaseModel) -> dict[str, Any]:
        """The arguments as JSON-ready keyword arguments (what goes on the wire)."""
        return model.model_dump(mode="json")

    def call_kwargs(self, model: BaseModel) -> dict[str, Any]:
        """The typed keyword arguments to call the function with."""
        values = {name: getattr(model, name) for name in self.params}
        values.update(model.model_extra or {})
        return values
