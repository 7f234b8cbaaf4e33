"""The server's command-line options for sessions, login throttling, /metrics access and running
behind a TLS-terminating proxy, turned into create_app options."""

from __future__ import annotations

import argparse
from typing import Any

from calamari.domain.login_guard import ThrottlePolicy
from calamari.service.auth import AuthPolicy


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("security")
    g.add_argument("--session-idle", type=float, default=2 * 3600, metavar="SECONDS",
                   help="a session unused this long ends (default 2 h)")
    g.add_argument("--session-lifetime", type=float, default=7 * 24 * 3600, metavar="SECONDS",
                   help="every session ends this long after login (default 7 days)")
    g.add_argument("--login-lock-after", type=int, default=10, metavar="N",
                   help="failed logins (per user name or client address, within 15 min) that lock it (default 10)")
    g.add_argument("--login-lock-seconds", type=float, default=15 * 60, metavar="SECONDS",
                   help="how long such a lock lasts (default 15 min)")
    g.add_argument("--metrics-public", action="store_true",
                   help="serve /metrics without a token (only where the network already protects it)")
    g.add_argument("--proxy-hops", type=int, default=0, metavar="N",
                   help="trust N proxies' X-Forwarded-For/-Proto headers (1 behind nginx or haproxy; 0: none)")
    g.add_argument("--hsts", type=int, default=0, metavar="SECONDS",
                   help="send Strict-Transport-Security with this max-age on HTTPS answers (0: no)")
    g.add_argument("--secure-cookies", action="store_true",
                   help="mark session cookies Secure even if a request arrived as plain HTTP (behind TLS)")
    g.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                   help="largest request body accepted (default 1 MiB); larger ones get 413")


def app_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.session_idle <= 0 or args.session_lifetime <= 0 or args.login_lock_after < 2:
        raise SystemExit("calamari-server: session times must be positive and --login-lock-after at least 2")
    policy = AuthPolicy(session_idle_s=args.session_idle, session_max_s=args.session_lifetime,
                        throttle=ThrottlePolicy(lock_after=args.login_lock_after, lock_s=args.login_lock_seconds,
                                                slow_after=min(3, args.login_lock_after - 1)))
    return {"AUTH_POLICY": policy, "METRICS_PUBLIC": args.metrics_public, "PROXY_HOPS": args.proxy_hops,
            "HSTS_SECONDS": args.hsts, "SECURE_COOKIES": args.secure_cookies, "MAX_CONTENT_LENGTH": args.max_body}
