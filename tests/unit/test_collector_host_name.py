"""The fqdn a collector reports for its host: what getfqdn() says, except a loopback name, which
getfqdn() answers when /etc/hosts lists the host name after `localhost` on a loopback line (then
every such host would be one server named `localhost`): the configured host name instead."""

import socket

import pytest

from collector import host


@pytest.mark.parametrize("getfqdn, gethostname, expected", [
    ("stor7.example.net", "stor7", "stor7.example.net"),
    ("localhost", "stor7", "stor7"),
    ("localhost.localdomain", "stor7.example.net", "stor7.example.net"),
    ("ip6-localhost", "stor7", "stor7"),
    ("", "stor7", "stor7"),
    ("localhost", "", "localhost"),
])
def test_fqdn(monkeypatch, getfqdn, gethostname, expected):
    monkeypatch.setattr(socket, "getfqdn", lambda *a: getfqdn)
    monkeypatch.setattr(socket, "gethostname", lambda: gethostname)
    assert host.fqdn() == expected
    assert host.local_facts([])["fqdn"] == expected
