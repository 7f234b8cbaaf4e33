"""Stable aggregate ids: uuid5 of the natural keys, so the same cluster object always maps to the
same aggregate, across restarts and across servers."""

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1b3c52-9a43-5d0e-8d8e-5c0a1a7e2b10")


def cluster_id(fsid: str) -> UUID:
    return uuid5(NAMESPACE, f"cluster/{fsid}")


def osd_id(fsid: str, osd: int) -> UUID:
    return uuid5(NAMESPACE, f"osd/{fsid}/{osd}")


def pool_id(fsid: str, pool: int) -> UUID:
    return uuid5(NAMESPACE, f"pool/{fsid}/{pool}")


def server_id(fqdn: str) -> UUID:
    return uuid5(NAMESPACE, f"server/{fqdn}")


def user_request_id(request_id: str) -> UUID:
    return uuid5(NAMESPACE, f"request/{request_id}")


def user_id(username: str) -> UUID:
    return uuid5(NAMESPACE, f"user/{username}")
