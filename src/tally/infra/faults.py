"""Failpoints: named places where a chaos test can make this process die on purpose.

`TALLY_FAILPOINTS=flush.after_insert` makes the process SIGKILL itself when it reaches
that point, so tests can prove recovery from a crash at the worst moment. Unset, a
failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def hit(name: str) -> None:
    """Die here if the failpoint `name` is armed in the environment."""
    armed = os.environ.get("TALLY_FAILPOINTS")
    if armed and name in armed.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
