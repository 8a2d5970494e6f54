"""TLS for the data connections between TaskManagers (Flink's ``security.ssl.internal.*``).

Flink reads Java key and trust stores; weir reads PEM files instead:

- ``security.ssl.internal.enabled``: ``true`` turns TLS on for every data connection.
- ``security.ssl.internal.cert``: this node's certificate chain (PEM), presented by both
  sides: internal TLS is mutual, as in Flink.
- ``security.ssl.internal.key``: the private key of that certificate (PEM).
- ``security.ssl.internal.ca``: the certificates (PEM) a peer's certificate must chain to;
  for a cluster-private certificate, the certificate itself.
- ``security.ssl.verify-hostname``: whether a client checks that the server's certificate
  names the host it connected to (default ``true``, as in Flink).

The JobManager parses the options and hands them to the TaskManagers it starts; each
TaskManager loads the files (they must exist on its node) when it opens its data port. The
cluster-secret handshake runs inside TLS all the same.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from weir.config.configuration import ConfigError, Configuration

__all__ = [
    "SSL_INTERNAL_CA",
    "SSL_INTERNAL_CERT",
    "SSL_INTERNAL_ENABLED",
    "SSL_INTERNAL_KEY",
    "SSL_VERIFY_HOSTNAME",
    "InternalSslOptions",
]

SSL_INTERNAL_ENABLED = "security.ssl.internal.enabled"
SSL_INTERNAL_CERT = "security.ssl.internal.cert"
SSL_INTERNAL_KEY = "security.ssl.internal.key"
SSL_INTERNAL_CA = "security.ssl.internal.ca"
SSL_VERIFY_HOSTNAME = "security.ssl.verify-hostname"


@dataclass(frozen=True)
class InternalSslOptions:
    """Where a TaskManager finds its certificate, key and trusted CAs (paths on its node)."""

    cert: str
    key: str
    ca: str
    verify_hostname: bool = True

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, str]) -> InternalSslOptions | None:
        """The options, or None when ``security.ssl.internal.enabled`` is not true.

        Raises:
            ConfigError: naming the key that is missing or malformed.
        """
        options = Configuration(configuration)
        if not options.get_boolean(SSL_INTERNAL_ENABLED, False):
            return None
        paths = {}
        for key in (SSL_INTERNAL_CERT, SSL_INTERNAL_KEY, SSL_INTERNAL_CA):
            value = (options.get_string(key) or "").strip()
            if not value:
                raise ConfigError(f"{SSL_INTERNAL_ENABLED} is true but '{key}' is not set "
                                  f"(a PEM file path)")
            paths[key] = value
        return cls(paths[SSL_INTERNAL_CERT], paths[SSL_INTERNAL_KEY], paths[SSL_INTERNAL_CA],
                   options.get_boolean(SSL_VERIFY_HOSTNAME, True))

    def server_context(self) -> ssl.SSLContext:
        """For the data port: presents the certificate and requires one from the client."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self) -> ssl.SSLContext:
        """For outgoing data connections: verifies the server and presents the certificate."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        context.check_hostname = self.verify_hostname
        return context
