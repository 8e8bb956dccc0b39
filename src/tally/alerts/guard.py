"""Where a webhook may go: public hosts, plus the loopback and private ones listed.

TALLY_WEBHOOK_ALLOWED_HOSTS names hosts, addresses or CIDRs (`127.0.0.1`, `10.0.0.0/8`,
`hooks.internal`). A name is resolved and every address it gives is checked, when the channel
is saved and again before each send (a name may change where it points).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from tally.errors import ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(field, "url_not_allowed", message)


def _public(address: Address) -> bool:
    return not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified
    )  # fmt: skip


def _listed(host: str, addresses: list[Address], allowed: list[str]) -> bool:
    if host in allowed:
        return True
    networks = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name, compared above
    return bool(addresses) and all(any(a in n for n in networks) for a in addresses)


def _addresses(host: str) -> list[Address] | None:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, allowed: list[str], *, field: str = "url", resolve: bool = True) -> str:
    """The URL's host when a webhook may target it; ValidationFailed (url_not_allowed) if not.

    `resolve=False` (saving a channel) accepts a name that does not resolve now; the check
    before each send resolves it and refuses what is not allowed.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(field, "invalid_url", "expected an http:// or https:// URL")
    host = parts.hostname.lower().rstrip(".")
    addresses = _addresses(host)
    local_name = host == "localhost" or host.endswith(_LOCAL_SUFFIXES)
    if _listed(host, addresses or [], allowed):
        return host
    if local_name or (addresses and not all(_public(a) for a in addresses)):
        raise _refuse(
            field,
            f"host {host} is loopback or private; list it in TALLY_WEBHOOK_ALLOWED_HOSTS "
            "to allow it",
        )
    if addresses is None and resolve:
        raise ValidationFailed(field, "unresolvable", f"host {host} does not resolve")
    return host
