"""The broker address: ``mqtt://host:port`` or ``mqtts://host:port``. Pure, no client library."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://host[:port]`` (plain TCP) or ``mqtts://host[:port]`` (TLS, system CAs)."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("names no host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials (use the *_USERNAME/*_PASSWORD options)")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("must be scheme://host:port only")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise ValueError(f"has a bad port: {exc}") from None
        return cls(host=parts.hostname, port=port, tls=parts.scheme == "mqtts")

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
