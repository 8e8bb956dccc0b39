"""Bearer tokens (TALLY_API_TOKENS), checked the same way by the API and the dashboard."""

from __future__ import annotations

import hmac


def token_ok(given: str, accepted: list[str]) -> bool:
    """True if `given` is one of `accepted`; compares every token in constant time."""
    found = False
    for token in accepted:
        found |= hmac.compare_digest(given.encode(), token.encode())
    return found
