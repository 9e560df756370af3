"""Which hosts an HTTP request may reach: the guard against server-side request forgery.

Anyone who can write to the command topic can ask for any URL, so every URL,
including every redirect hop, is checked before a connection is made, and a
host is refused unless an entry names it: the default is to deny (the cloud
metadata address included). Entries are host names or IP literals,
optionally with ``:port``; ``*.example.com`` matches sub-domains of
example.com (not example.com itself); ``*`` alone allows every host and must
be written out. Matching is on the name in the URL:
resolve-time tricks (DNS rebinding) need a network-level egress policy too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import httpx
from pydantic import AfterValidator


@dataclass(frozen=True, slots=True)
class _HostRule:
    host: str
    port: int | None
    wildcard: bool

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


ANY_HOST = "*"


def parse_host_rule(entry: str) -> _HostRule:
    """Parse one ``allowed_hosts`` entry; raises ``ValueError`` with the reason."""
    text = entry.strip().lower()
    if text == ANY_HOST:
        return _HostRule("", None, wildcard=True)
    port: int | None = None
    if text.startswith("["):  # [::1] or [::1]:8080
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _parse_port(rest.removeprefix(":"), entry)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _parse_port(port_text, entry)
    else:
        host = text
    wildcard = host.startswith("*.")
    host = host.removeprefix("*.")
    if not host or "*" in host or "/" in host:
        raise ValueError(f"{entry!r} is not a host name, IP address or *.domain (optionally with :port)")
    return _HostRule(host, port, wildcard)


def _parse_port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r} has an invalid port")
    return int(text)


class HostAllowlist:
    """An empty list allows no host; an entry ``*`` allows every host."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        self.allows_all = any(entry.strip() == ANY_HOST for entry in entries)
        self._rules = tuple(parse_host_rule(e) for e in entries if e.strip() != ANY_HOST)

    def allows(self, url: httpx.URL) -> bool:
        if self.allows_all:
            return True
        port = url.port or (443 if url.scheme == "https" else 80)
        host = url.host.lower().rstrip(".")
        return any(rule.matches(host, port) for rule in self._rules)


def _checked_rules(entries: list[str]) -> list[str]:
    for entry in entries:
        parse_host_rule(entry)
    return entries


HostRules = Annotated[list[str], AfterValidator(_checked_rules)]
"""A config field holding allow-list entries, each refused at parse with its reason."""
