"""What a caller of the JobManager proves and trusts: the bearer token (from a file or the
environment, never needed on a command line) and TLS certificates for gRPC channels.

A token on a command line is readable by every local user (``/proc/<pid>/cmdline``, ``ps``);
a token file (mode 0600) or the environment is not.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from weir.config.configuration import ConfigError
from weir.config.rest_ssl import SSL_REST_CA, RestSslOptions

__all__ = [
    "TLS_CA_ENV",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "ServerTls",
    "aio_channel",
    "channel",
    "read_pem",
    "read_token_file",
    "resolve_tls_ca",
    "resolve_token",
]

TOKEN_ENV = "WEIR_TOKEN"
TOKEN_FILE_ENV = "WEIR_TOKEN_FILE"
TLS_CA_ENV = "WEIR_TLS_CA"


def read_token_file(path: str) -> str:
    """The token in the file at ``path`` (surrounding whitespace and newline dropped).

    Raises:
        ConfigError: the file cannot be read, is empty, or holds more than one printable
            ASCII word (gRPC metadata carries nothing else).
    """
    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ConfigError(f"cannot read the token file {path}: {reason}") from None
    if not token:
        raise ConfigError(f"the token file {path} is empty")
    if not all("!" <= char <= "~" for char in token):
        raise ConfigError(f"the token file {path} must hold one word of printable ASCII "
                          "characters (no spaces or control characters)")
    return token


def resolve_token(token: str | None, token_file: str | None,
                  environ: Mapping[str, str]) -> str | None:
    """The bearer token: ``token`` (a ``--token`` option), else the file ``token_file``,
    else ``$WEIR_TOKEN``, else the file ``$WEIR_TOKEN_FILE``, else none.

    Raises:
        ConfigError: a token file that cannot be used (see ``read_token_file``).
    """
    if token:
        return token
    if token_file:
        return read_token_file(token_file)
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    if environ.get(TOKEN_FILE_ENV):
        return read_token_file(environ[TOKEN_FILE_ENV])
    return None


def read_pem(path: str, what: str) -> bytes:
    """The PEM file at ``path``; ``what`` names it in errors ("--tls-ca", ...).

    Raises:
        ConfigError: the file cannot be read or holds no PEM block.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{what} {path} is not a PEM file (no -----BEGIN line)")
    return data


def resolve_tls_ca(path: str | None, environ: Mapping[str, str],
                   configuration: Mapping[str, str] | None = None) -> bytes | None:
    """The certificates a client trusts for the JobManager: the file ``path`` (``--tls-ca``),
    else ``$WEIR_TLS_CA``, else ``security.ssl.rest.ca`` of ``configuration``; None: plain
    (unencrypted) gRPC.

    Raises:
        ConfigError: the file cannot be read or is not PEM.
    """
    for source, value in (("--tls-ca", path), (TLS_CA_ENV, environ.get(TLS_CA_ENV)),
                          (SSL_REST_CA, (configuration or {}).get(SSL_REST_CA))):
        if value and value.strip():
            return read_pem(value.strip(), source)
    return None


@dataclass(frozen=True)
class ServerTls:
    """The JobManager's TLS material (PEM bytes): the certificate chain and key it presents,
    and the certificates its TaskManagers trust when they call it."""

    certificate_chain: bytes
    private_key: bytes
    trusted_certificates: bytes

    @classmethod
    def load(cls, options: RestSslOptions) -> ServerTls:
        """Read and check the files ``options`` names (the key must match the certificate).

        Raises:
            ConfigError: a file is unreadable, not PEM, or the key does not match.
        """
        chain = read_pem(options.cert, "the TLS certificate")
        key = read_pem(options.key, "the TLS private key")
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(options.cert, options.key, password=_no_password)
        except (ssl.SSLError, OSError) as error:
            raise ConfigError(f"cannot use the TLS certificate {options.cert} with the key "
                              f"{options.key} (an unencrypted PEM key matching the "
                              f"certificate): {error}") from None
        trusted = read_pem(options.ca, "the TLS CA") if options.ca else chain
        return cls(chain, key, trusted)

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.private_key, self.certificate_chain)])


def _no_password() -> bytes:
    return b""  # an encrypted key fails to load instead of prompting on the terminal


def channel(address: str, options: list[tuple[str, Any]],
            root_certificates: bytes | None = None) -> grpc.Channel:
    """A blocking channel to ``address``: TLS trusting ``root_certificates`` when given,
    plain otherwise."""
    if root_certificates is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates),
                               options=options)


def aio_channel(address: str, options: list[tuple[str, Any]],
                root_certificates: bytes | None = None) -> grpc.aio.Channel:
    """An asyncio channel to ``address``: TLS trusting ``root_certificates`` when given,
    plain otherwise."""
    if root_certificates is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(root_certificates),
                                   options=options)
