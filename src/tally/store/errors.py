"""ClickHouse's errors (chDB and clickhouse-connect) as Tally's: the store's one translator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tally.errors import StoreError, StoreUnavailable, TallyError


def first_line(exc: BaseException) -> str:
    """The first line of an engine's message (ClickHouse appends a stack trace)."""
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _unreachable(exc: BaseException) -> bool:
    """True for errors that say the server cannot be reached, not that a query failed."""
    if isinstance(exc, OSError):
        return True
    try:
        from clickhouse_connect.driver.exceptions import OperationalError
    except ImportError:  # pragma: no cover - clickhouse-connect is a dependency
        return False
    return isinstance(exc, OperationalError)


@contextlib.contextmanager
def clickhouse_errors(what: str | None = None) -> Iterator[None]:
    """Translate the engine's errors raised in the block (Tally's own pass through).

    `what` prefixes the message (None: the engine's first line alone).
    """
    try:
        yield
    except TallyError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: chDB raises bare RuntimeError
        message = first_line(exc) if what is None else f"{what}: {first_line(exc)}"
        if _unreachable(exc):
            raise StoreUnavailable(message) from None
        raise StoreError(message) from None
