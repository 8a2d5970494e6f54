"""S3 client throughput against a local moto_server: put/get of 64 KiB–4 MiB objects, list,
delete; medians of several runs. Used to pick weir's S3 client, and to check weir's own
``storage_for`` (``s3://`` and ``file://``) against the raw clients.

Usage: python benchmarks/storage.py [--runs 5] [--clients aiobotocore,boto3,obstore,weir-s3,weir-file]

Clients that are not installed are skipped. Client CPU is this process's CPU time per
operation (moto runs in its own process): on a 2-core machine it is what a checkpoint
upload takes away from the tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.s3 import MotoServer

SIZES = [64 * 1024, 1024 * 1024, 4 * 1024 * 1024]
BYTES_PER_RUN = 32 * 1024 * 1024
LIST_OBJECTS = 500
CONCURRENCY = [1, 8]


class Client:
    """The few operations measured; keys are relative to one bucket."""

    name = ""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def list(self, prefix: str) -> list[str]: ...

    async def delete(self, keys: list[str]) -> None: ...

    async def close(self) -> None: ...


class AioBotocoreClient(Client):
    name = "aiobotocore"

    def __init__(self, server: MotoServer, bucket: str) -> None:
        self._server, self._bucket, self._client, self._exit = server, bucket, None, None

    async def open(self) -> AioBotocoreClient:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        context = get_session().create_client(
            "s3", endpoint_url=self._server.endpoint, region_name=self._server.region,
            aws_access_key_id=self._server.access_key,
            aws_secret_access_key=self._server.secret_key,
            config=AioConfig(s3={"addressing_style": "path"}, max_pool_connections=16))
        self._client, self._exit = await context.__aenter__(), context.__aexit__
        return self

    async def put(self, key: str, data: bytes) -> None:
        await self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    async def get(self, key: str) -> bytes:
        response = await self._client.get_object(Bucket=self._bucket, Key=key)
        async with response["Body"] as body:
            return bytes(await body.read())

    async def list(self, prefix: str) -> list[str]:
        keys = []
        async for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    async def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            await self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})

    async def close(self) -> None:
        await self._exit(None, None, None)


class Boto3ThreadsClient(Client):
    name = "boto3+threads"

    def __init__(self, server: MotoServer, bucket: str) -> None:
        import boto3
        from botocore.config import Config

        self._bucket = bucket
        self._client = boto3.client(
            "s3", endpoint_url=server.endpoint, region_name=server.region,
            aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=16))

    async def open(self) -> Boto3ThreadsClient:
        return self

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._client.put_object, Bucket=self._bucket, Key=key, Body=data)

    async def get(self, key: str) -> bytes:
        def get() -> bytes:
            return bytes(self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        return await asyncio.to_thread(get)

    async def list(self, prefix: str) -> list[str]:
        def list_keys() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix)
            return [o["Key"] for page in pages for o in page.get("Contents", [])]
        return await asyncio.to_thread(list_keys)

    async def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            await asyncio.to_thread(
                self._client.delete_objects, Bucket=self._bucket,
                Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})


class ObstoreClient(Client):
    name = "obstore"

    def __init__(self, server: MotoServer, bucket: str) -> None:
        from obstore.store import S3Store

        self._store = S3Store(
            bucket, endpoint=server.endpoint, region=server.region,
            access_key_id=server.access_key, secret_access_key=server.secret_key,
            virtual_hosted_style_request=False, client_options={"allow_http": True})

    async def open(self) -> ObstoreClient:
        return self

    async def put(self, key: str, data: bytes) -> None:
        import obstore

        await obstore.put_async(self._store, key, data)

    async def get(self, key: str) -> bytes:
        import obstore

        result = await obstore.get_async(self._store, key)
        return bytes(await result.bytes_async())

    async def list(self, prefix: str) -> list[str]:
        import obstore

        return [m["path"] async for batch in obstore.list(self._store, prefix, chunk_size=1000)
                for m in batch]

    async def delete(self, keys: list[str]) -> None:
        import obstore

        await obstore.delete_async(self._store, keys)


class WeirClient(Client):
    """weir's own CheckpointStorage (``write`` hashes what it writes)."""

    def __init__(self, name: str, uri: str, configuration: dict[str, str]) -> None:
        from weir.checkpoint import storage_for

        self.name = name
        self._storage = storage_for(uri, configuration)

    async def open(self) -> WeirClient:
        return self

    async def put(self, key: str, data: bytes) -> None:
        await self._storage.write(key, data)

    async def get(self, key: str) -> bytes:
        return await self._storage.read(key)

    async def list(self, prefix: str) -> list[str]:
        return await self._storage.list(prefix)

    async def delete(self, keys: list[str]) -> None:
        for prefix in {key.split("/")[0] for key in keys}:
            await self._storage.delete_tree(prefix)

    async def close(self) -> None:
        await self._storage.close()


async def timed(operation: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one awaited operation."""
    wall, cpu = time.perf_counter(), time.process_time()
    await operation()
    return time.perf_counter() - wall, time.process_time() - cpu


async def bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with limit:
            await job()
    await asyncio.gather(*(one(job) for job in jobs))


def report(name: str, op: str, samples: list[tuple[float, float]], ops: int,
           nbytes: int) -> None:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    mbps = f"{nbytes / wall / 1e6:8.1f} MB/s" if nbytes else " " * 13
    print(f"{name:14} {op:22} {ops / wall:9.1f} ops/s {mbps}  client CPU "
          f"{cpu / ops * 1000:7.2f} ms/op", flush=True)


async def put_all(client: Client, keys: list[str], data: bytes, concurrency: int) -> None:
    await bounded([functools.partial(client.put, key, data) for key in keys], concurrency)


async def get_all(client: Client, keys: list[str], concurrency: int) -> None:
    await bounded([functools.partial(client.get, key) for key in keys], concurrency)


async def measure(client: Client, runs: int) -> None:
    for size in SIZES:
        count = BYTES_PER_RUN // size
        data = os.urandom(size)
        for concurrency in CONCURRENCY:
            puts, gets = [], []
            for run in range(runs):
                keys = [f"r{run}-{size}-{concurrency}/{i}" for i in range(count)]
                puts.append(await timed(functools.partial(put_all, client, keys, data,
                                                          concurrency)))
                gets.append(await timed(functools.partial(get_all, client, keys, concurrency)))
                await client.delete(keys)
            label = f"{size // 1024} KiB x{concurrency}"
            report(client.name, f"put {label}", puts, count, count * size)
            report(client.name, f"get {label}", gets, count, count * size)
    keys = [f"list/{i:05d}" for i in range(LIST_OBJECTS)]
    await put_all(client, keys, b"x", 8)
    listed = [await timed(functools.partial(client.list, "list/")) for _ in range(runs)]
    assert len(await client.list("list/")) == LIST_OBJECTS
    report(client.name, f"list {LIST_OBJECTS} keys", listed, 1, 0)
    deletes = []
    for run in range(runs):
        batch = [f"del{run}/{i:05d}" for i in range(LIST_OBJECTS)]
        await put_all(client, batch, b"x", 8)
        deletes.append(await timed(functools.partial(client.delete, batch)))
    report(client.name, f"delete {LIST_OBJECTS} keys", deletes, LIST_OBJECTS, 0)
    await client.delete(keys)


def make_client(name: str, server: MotoServer, bucket: str, tmp: str) -> Any:
    if name == "aiobotocore":
        return AioBotocoreClient(server, bucket)
    if name == "boto3":
        return Boto3ThreadsClient(server, bucket)
    if name == "obstore":
        return ObstoreClient(server, bucket)
    if name == "weir-s3":
        return WeirClient(name, f"s3://{bucket}/weir", server.configuration)
    if name == "weir-file":
        return WeirClient(name, f"file://{tmp}/weir", {})
    raise SystemExit(f"unknown client {name!r}")


async def run_client(name: str, server: MotoServer, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            client = await make_client(name, server, server.create_bucket(), tmp).open()
        except ImportError as error:
            print(f"{name:14} skipped: {error}")
            return
        try:
            await measure(client, runs)
        finally:
            await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", default="aiobotocore,boto3,obstore,weir-s3,weir-file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as log_dir:
        server = MotoServer(Path(log_dir) / "moto.log").start()
        try:
            for name in args.clients.split(","):
                asyncio.run(run_client(name, server, args.runs))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
