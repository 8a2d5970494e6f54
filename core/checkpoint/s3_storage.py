"""``s3://bucket/prefix`` checkpoint storage on any S3-compatible store, through obstore.

obstore (Rust ``object_store``) was chosen by measurement against moto_server
(``benchmarks/storage.py``): the same or better throughput than aiobotocore and boto3 in
threads, at 2–3x less client CPU per put/get and 14x less per list, which matters on
machines where the uploads share cores with the tasks. Its calls are natively async, and it
pins no botocore version.

Options, with Flink's names: ``s3.endpoint`` (default: AWS), ``s3.access-key`` and
``s3.secret-key`` (default: the AWS environment), ``s3.path.style.access`` (default false;
an endpoint whose host is an IP address or localhost always uses path style, as
virtual-hosted names cannot work there), ``s3.region`` (default us-east-1).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from weir.checkpoint.storage import (
    CheckpointFileNotFoundError,
    CheckpointStorage,
    CheckpointStorageError,
    StorageUri,
    relative_path,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

__all__ = ["S3CheckpointStorage", "S3Options", "s3_error"]

_CREDENTIAL_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                     "InvalidToken", "ExpiredToken", "InvalidClientTokenId"}
# A stopped or unreachable server fails a checkpoint in seconds, not minutes.
_RETRY: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=15),
          "backoff": {"init_backoff": timedelta(milliseconds=100),
                      "max_backoff": timedelta(seconds=2), "base": 2}}
_CONNECT_TIMEOUT = "5s"
_REQUEST_TIMEOUT = "120s"
_LIST_CHUNK = 1000


@dataclass(frozen=True)
class S3Options:
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    path_style: bool = False
    region: str = "us-east-1"

    @staticmethod
    def from_configuration(configuration: Mapping[str, str]) -> S3Options:
        """Raises CheckpointStorageError naming the option that is wrong."""
        endpoint = (configuration.get("s3.endpoint") or "").strip().rstrip("/") or None
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise CheckpointStorageError(
                f"s3.endpoint must be an http:// or https:// URL, got {endpoint!r}")
        access_key = configuration.get("s3.access-key") or None
        secret_key = configuration.get("s3.secret-key") or None
        if (access_key is None) != (secret_key is None):
            raise CheckpointStorageError(
                "set both s3.access-key and s3.secret-key, or neither (to use the AWS "
                "environment)")
        path_style = (configuration.get("s3.path.style.access") or "false").strip().lower()
        if path_style not in ("true", "false"):
            raise CheckpointStorageError(
                f"s3.path.style.access must be true or false, got {path_style!r}")
        return S3Options(endpoint, access_key, secret_key, path_style == "true",
                         (configuration.get("s3.region") or "us-east-1").strip())

    def uses_path_style(self) -> bool:
        if self.path_style or self.endpoint is None:
            return True  # without an endpoint, object_store addresses AWS path-style
        host = urlsplit(self.endpoint).hostname or ""
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            return True
        return host == "localhost"


class _Client:
    """One obstore S3Store per bucket and options, created on first use (about 5 ms) and
    shared by a storage and its children."""

    def __init__(self, bucket: str, options: S3Options) -> None:
        self.bucket = bucket
        self.options = options
        self._store: S3Store | None = None

    @property
    def store(self) -> S3Store:
        if self._store is None:
            self._store = self._create()
        return self._store

    def _create(self) -> S3Store:
        o = self.options
        config: dict[str, Any] = {"region": o.region}
        if o.access_key is not None:
            config.update(access_key_id=o.access_key, secret_access_key=o.secret_key)
        client_options: ClientConfig = {"connect_timeout": _CONNECT_TIMEOUT,
                                          "timeout": _REQUEST_TIMEOUT}
        if o.endpoint is not None:
            endpoint = o.endpoint
            if not o.uses_path_style():
                parts = urlsplit(endpoint)
                endpoint = f"{parts.scheme}://{self.bucket}.{parts.netloc}"
            config.update(endpoint=endpoint, virtual_hosted_style_request=not o.uses_path_style())
            client_options["allow_http"] = endpoint.startswith("http://")
        return S3Store(self.bucket, client_options=client_options, retry_config=_RETRY,
                       **config)


@functools.lru_cache(maxsize=64)
def _shared_client(bucket: str, options: S3Options) -> _Client:
    """One client per bucket and options in a process: every checkpoint has its own
    directory, and a storage per directory must not mean a connection pool per checkpoint."""
    return _Client(bucket, options)


class S3CheckpointStorage(CheckpointStorage):
    """Objects below ``s3://bucket/prefix``. Every PUT is atomic, so ``write`` and
    ``write_atomic`` are the same; "directories" are key prefixes."""

    def __init__(self, client: _Client, prefix: str) -> None:
        self._client = client
        self._prefix = prefix.strip("/")
        self.uri = f"s3://{client.bucket}/{self._prefix}".rstrip("/")

    @staticmethod
    def create(uri: StorageUri, configuration: Mapping[str, str]) -> S3CheckpointStorage:
        return S3CheckpointStorage(
            _shared_client(uri.bucket, S3Options.from_configuration(configuration)), uri.path)

    def _key(self, path: str) -> str:
        relative = relative_path(path)
        return "/".join(p for p in (self._prefix, relative) if p)

    def _relative(self, key: str) -> str:
        return key[len(self._prefix) + 1:] if self._prefix else key

    @contextlib.contextmanager
    def _translated(self, operation: str, key: str) -> Iterator[None]:
        try:
            yield
        except CheckpointStorageError:
            raise
        except Exception as error:
            raise s3_error(error, operation, f"s3://{self._client.bucket}/{key}",
                           self._client.options.endpoint or "AWS S3") from error

    async def _put(self, path: str, data: bytes, atomic: bool) -> None:
        key = self._key(path)
        with self._translated("writing", key):
            await obstore.put_async(self._client.store, key, data)

    async def read(self, path: str) -> bytes:
        key = self._key(path)
        with self._translated("reading", key):
            result = await obstore.get_async(self._client.store, key)
            return bytes(await result.bytes_async())

    async def size(self, path: str) -> int:
        key = self._key(path)
        with self._translated("reading", key):
            return int((await obstore.head_async(self._client.store, key))["size"])

    async def exists(self, path: str) -> bool:
        try:
            await self.size(path)
            return True
        except CheckpointFileNotFoundError:
            return False

    async def _keys(self, prefix: str) -> list[str]:
        key = self._key(prefix)
        with self._translated("listing", key):
            stream = obstore.list(self._client.store, key or None, chunk_size=_LIST_CHUNK)
            return [meta["path"] async for chunk in stream for meta in chunk]

    async def list(self, prefix: str = "") -> list[str]:
        return sorted(self._relative(key) for key in await self._keys(prefix))

    async def list_directories(self, prefix: str = "") -> builtins.list[str]:
        key = self._key(prefix)
        with self._translated("listing", key):
            listing = await obstore.list_with_delimiter_async(self._client.store, key or None)
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in listing["common_prefixes"])

    async def delete(self, path: str) -> None:
        key = self._key(path)
        with self._translated("deleting", key):
            await obstore.delete_async(self._client.store, key)

    async def delete_tree(self, prefix: str) -> None:
        keys = await self._keys(prefix)
        for start in range(0, len(keys), _LIST_CHUNK):
            with self._translated("deleting", self._key(prefix)):
                await obstore.delete_async(self._client.store, keys[start:start + _LIST_CHUNK])

    async def rename(self, source: str, target: str) -> None:
        key = self._key(source)
        with self._translated("renaming", key):
            await obstore.rename_async(self._client.store, key, self._key(target))

    def child(self, prefix: str) -> S3CheckpointStorage:
        return S3CheckpointStorage(self._client, self._key(prefix))


def s3_error(error: Exception, operation: str, uri: str, endpoint: str) -> CheckpointStorageError:
    """What to tell the user about an obstore error: missing object or bucket, rejected
    credentials, unreachable endpoint, or else the store's own first line."""
    text = str(error).split("\n\nDebug source", 1)[0]
    code = _error_code(text)
    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    if code == "NoSuchBucket":
        return CheckpointStorageError(
            f"S3 bucket {bucket!r} does not exist at {endpoint}; create it, or fix the bucket "
            "in the s3:// URI (state.checkpoints.dir, state.savepoints.dir or the sink path)")
    if isinstance(error, FileNotFoundError):
        return CheckpointFileNotFoundError(f"no such object: {uri}")
    if code in _CREDENTIAL_CODES or isinstance(error, (PermissionDeniedError,
                                                       UnauthenticatedError)):
        return CheckpointStorageError(
            f"{endpoint} rejected the credentials while {operation} {uri} ({code or 'denied'}); "
            "check s3.access-key and s3.secret-key")
    if code is None and _is_connection_failure(text):
        reason = text.rsplit(" - ", 1)[-1].strip()
        return CheckpointStorageError(
            f"S3 endpoint {endpoint} is unreachable: {reason}; check s3.endpoint and that the "
            "server is running")
    return CheckpointStorageError(f"S3 error while {operation} {uri}: {code or text}")


def _error_code(text: str) -> str | None:
    match = re.search(r"<Code>([^<]+)</Code>", text)
    return match.group(1) if match else None


def _is_connection_failure(text: str) -> bool:
    lowered = text.lower()
    return any(s in lowered for s in ("error sending request", "connection", "connect error",
                                      "dns error", "timed out", "timeout"))
