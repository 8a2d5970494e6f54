"""TLS for the JobManager's gRPC port (Flink's ``security.ssl.rest.*``).

Flink reads Java key and trust stores; weir reads PEM files instead, with the names of
``weir.config.internal_ssl`` (the data plane's ``security.ssl.internal.*``):

- ``security.ssl.rest.enabled``: TLS on the JobManager's gRPC port. Defaults to ``true``
  when a certificate is configured; ``true`` without one is an error.
- ``security.ssl.rest.cert``: the JobManager's certificate chain (PEM); its names (DNS or
  IP) must include the host clients and TaskManagers connect to.
- ``security.ssl.rest.key``: the private key of that certificate (PEM).
- ``security.ssl.rest.ca``: the certificates (PEM) the JobManager's certificate chains to.
  A client trusts them; on the JobManager they are what its TaskManagers trust (default:
  the certificate itself, right for a self-signed one).

The JobManager takes them as ``--tls-cert``, ``--tls-key`` and ``--tls-ca`` too; a client
as ``--tls-ca`` or ``WEIR_TLS_CA``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from weir.config.configuration import ConfigError, Configuration

__all__ = [
    "SSL_REST_CA",
    "SSL_REST_CERT",
    "SSL_REST_ENABLED",
    "SSL_REST_KEY",
    "RestSslOptions",
]

SSL_REST_ENABLED = "security.ssl.rest.enabled"
SSL_REST_CERT = "security.ssl.rest.cert"
SSL_REST_KEY = "security.ssl.rest.key"
SSL_REST_CA = "security.ssl.rest.ca"


@dataclass(frozen=True)
class RestSslOptions:
    """Where the JobManager finds its certificate, its key and the CA its TaskManagers
    trust (paths on the JobManager's node; ``ca`` None: the certificate itself)."""

    cert: str
    key: str
    ca: str | None = None

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, str], cert: str | None = None,
                           key: str | None = None,
                           ca: str | None = None) -> RestSslOptions | None:
        """The options from ``configuration``, each overridden by the command line's
        ``cert``, ``key`` and ``ca`` when given; None when TLS is off.

        Raises:
            ConfigError: a certificate without its key (or the reverse), or TLS enabled
                without a certificate.
        """
        options = Configuration(configuration)
        cert = cert or _path(options, SSL_REST_CERT)
        key = key or _path(options, SSL_REST_KEY)
        ca = ca or _path(options, SSL_REST_CA)
        enabled = options.get_boolean(SSL_REST_ENABLED, bool(cert or key))
        if not enabled:
            return None
        if not cert or not key:
            missing = "the certificate (--tls-cert or security.ssl.rest.cert)" if not cert \
                else "the private key (--tls-key or security.ssl.rest.key)"
            raise ConfigError(f"TLS on the JobManager's port needs a certificate and its "
                              f"private key (PEM files); {missing} is not given")
        return cls(cert, key, ca)


def _path(options: Configuration, key: str) -> str | None:
    return (options.get_string(key) or "").strip() or None
