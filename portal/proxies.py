"""The client's real address and scheme behind a reverse proxy.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the
request comes straight from a proxy named in ``PORTAL_TRUSTED_PROXIES``;
from anyone else they are ignored, since a client can send them itself.
The proxy must *set* ``X-Forwarded-For`` to the address it saw (not append
to what the client sent): one hop is read, the rightmost.
"""
from __future__ import annotations

import ipaddress

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> list[Network]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks. Raises ``ValueError`` naming
    the entry that is not an address or network."""
    networks = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"PORTAL_TRUSTED_PROXIES: {entry!r} is not an address or network") \
                from None
    return networks


class TrustedProxyFix:
    """WSGI middleware: Werkzeug's ``ProxyFix`` for requests from a trusted
    proxy, the untouched request for everyone else."""

    def __init__(self, app, networks: list[Network]):
        self.app = app
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)

    def _trusted(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:  # a Unix socket has no address
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self._trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    """Wrap ``app.wsgi_app`` when proxies are configured. Raises ``ValueError``
    for a malformed ``PORTAL_TRUSTED_PROXIES``."""
    networks = parse_networks(app.config["TRUSTED_PROXIES"] or "")
    if networks:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, networks)
