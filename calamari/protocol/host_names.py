"""Host names both ends judge alike: the collector when it names its host, the server when it
merges the servers collectors reported."""

from __future__ import annotations

# Names that getfqdn() gives a host whose /etc/hosts lists it after `localhost` on a loopback
# line: never a host's own name (collectors reported them before they fell back to the host name).
LOOPBACK_NAMES = frozenset({"localhost", "localhost6", "ip6-localhost", "ip6-loopback"})
