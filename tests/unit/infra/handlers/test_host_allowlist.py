"""Which URLs the http handler's allow-list lets through."""

from __future__ import annotations

import httpx
import pytest

from onex_host.infra.handlers._host_allowlist import HostAllowlist, parse_host_rule


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        (["*"], "http://anything.example/", True),
        ([], "http://anything.example/", False),
        ([], "http://169.254.169.254/latest/meta-data/", False),
        (["api.example.com"], "https://API.example.com./x", True),
        (["api.example.com"], "https://api.example.com.evil.net/", False),
        (["api.example.com:8443"], "https://api.example.com:8443/", True),
        (["api.example.com:8443"], "https://api.example.com/", False),
        (["api.example.com:443"], "https://api.example.com/", True),
        (["*.svc.cluster.local"], "http://vault.infra.svc.cluster.local/", True),
        (["*.svc.cluster.local"], "http://svc.cluster.local/", False),
        (["127.0.0.1"], "http://127.0.0.1:1234/", True),
        (["127.0.0.1"], "http://localhost:1234/", False),
        (["[::1]:8080"], "http://[::1]:8080/", True),
        (["[::1]"], "http://[::1]:9/", True),
    ],
)
def test_allows(entries: list[str], url: str, allowed: bool) -> None:
    assert HostAllowlist(entries).allows(httpx.URL(url)) is allowed


@pytest.mark.parametrize("entry", ["", "**", "*.", "a.*.com", "host:0", "host:99999", "host:http", "http://host/"])
def test_invalid_entries_are_refused_with_the_reason(entry: str) -> None:
    with pytest.raises(ValueError, match=r"port|not a host"):
        parse_host_rule(entry)


def test_every_host_is_allowed_only_when_said_explicitly() -> None:
    assert HostAllowlist(["*"]).allows_all
    assert not HostAllowlist([]).allows_all
    assert not HostAllowlist(["*.example.com"]).allows_all
