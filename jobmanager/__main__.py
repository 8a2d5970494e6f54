"""``weir jobmanager`` / ``python -m weir.jobmanager``: run a JobManager until interrupted.

It refuses to listen on a non-loopback address without a token (``--token-file``,
``WEIR_TOKEN`` or ``WEIR_TOKEN_FILE``) unless ``--insecure`` is given; gRPC runs over TLS
with ``--tls-cert``/``--tls-key`` (or ``security.ssl.rest.*``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import ray

from weir.config.internal_ssl import InternalSslOptions
from weir.config.rest_ssl import RestSslOptions
from weir.jobmanager.bind_policy import bind_refusal, insecure_warning
from weir.jobmanager.ray_resource_manager import init_ray
from weir.jobmanager.resource_manager import taskmanager_memory, taskmanager_ray_resources
from weir.jobmanager.runner import JobManager, JobManagerConfig
from weir.metrics.prometheus import PrometheusReporterOptions, parse_port_range
from weir.rpc.auth import DEFAULT_MAX_MESSAGE_BYTES
from weir.rpc.credentials import ServerTls, resolve_token

__all__ = ["main"]

log = logging.getLogger("weir.jobmanager")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weir jobmanager",
                                     description="Run a weir JobManager with its TaskManagers.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 for all "
                             "interfaces); any non-loopback address needs a token or --insecure")
    parser.add_argument("--port", type=int, default=6123, help="gRPC port (default 6123)")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token-file", metavar="PATH",
                       help="require the bearer token in this file from clients and "
                            "TaskManagers (default: $WEIR_TOKEN, else the file $WEIR_TOKEN_FILE)")
    token.add_argument("--token", help="the token itself; every local user can read it in the "
                                       "process list: prefer --token-file or WEIR_TOKEN")
    parser.add_argument("--insecure", action="store_true",
                        help="allow a non-loopback --host without a token (anyone who reaches "
                             "the port can run code on the cluster)")
    parser.add_argument("--tls-cert", metavar="PEM",
                        help="serve gRPC over TLS with this certificate chain "
                             "(or -D security.ssl.rest.cert=PEM)")
    parser.add_argument("--tls-key", metavar="PEM",
                        help="the certificate's private key (or -D security.ssl.rest.key=PEM)")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="the CA the certificate chains to, trusted by the TaskManagers "
                             "(or -D security.ssl.rest.ca=PEM; default: the certificate itself)")
    parser.add_argument("--ray-address", default=None,
                        help="Ray cluster to join (default: start a local Ray)")
    parser.add_argument("--taskmanagers", type=int, default=2, help="TaskManagers to start")
    parser.add_argument("--slots", type=int, default=2, help="task slots per TaskManager")
    parser.add_argument("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE_BYTES,
                        help="largest gRPC message in bytes (default 64 MiB)")
    parser.add_argument("--advertised-host", default=None,
                        help="host TaskManagers and clients use to reach this JobManager")
    parser.add_argument("--metrics-port", metavar="PORT[-PORT]", default=None,
                        help="port (or range: the first free one) of this JobManager's "
                             "Prometheus endpoint (default: metrics.reporter.prom.port, "
                             "9249-9259; bound to metrics.reporter.prom.host, 127.0.0.1)")
    parser.add_argument("--taskmanager-bind-host", default="127.0.0.1",
                        help="address TaskManagers bind their data port to")
    parser.add_argument("-D", dest="dynamic_properties", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="a configuration option with Flink's key, e.g. "
                             "-D state.checkpoints.dir=s3://bucket/checkpoints (repeatable)")
    return parser


def _configuration(properties: list[str]) -> dict[str, str]:
    configuration = {}
    for item in properties:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-D takes KEY=VALUE, got {item!r}")
        configuration[key.strip()] = value.strip()
    return configuration


def _security(args: argparse.Namespace,
              configuration: dict[str, str]) -> tuple[str | None, ServerTls | None]:
    """The token clients must present and the TLS material, read from their files.

    Raises:
        ValueError: a file cannot be used, or a non-loopback --host has neither a token
            nor --insecure.
    """
    token = resolve_token(args.token, args.token_file, os.environ)
    refusal = bind_refusal(args.host, token is not None, args.insecure)
    if refusal:
        raise ValueError(refusal)
    ssl_options = RestSslOptions.from_configuration(configuration, args.tls_cert, args.tls_key,
                                                    args.tls_ca)
    return token, ServerTls.load(ssl_options) if ssl_options else None


async def _serve(config: JobManagerConfig) -> None:
    jobmanager = JobManager(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await jobmanager.start()
    metrics = jobmanager.metrics
    if metrics is not None and metrics.port:
        print(f"Metrics at http://{metrics.options.host}:{metrics.port}/metrics "
              f"(Prometheus http_sd: /targets)", flush=True)
    notes = [note for note, on in (("token required", config.token), ("TLS", config.tls)) if on]
    print(f"JobManager listening on {config.host}:{jobmanager.port} with {config.taskmanagers} "
          f"TaskManagers x {config.slots} slots" + (f" ({', '.join(notes)})" if notes else ""),
          flush=True)
    await stop.wait()
    print("JobManager stopping", flush=True)
    await jobmanager.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.taskmanagers < 1 or args.slots < 1:
        print("error: --taskmanagers and --slots must be at least 1", file=sys.stderr)
        return 2
    try:
        configuration = _configuration(args.dynamic_properties)
        taskmanager_ray_resources(configuration)  # validated here for a clear error
        taskmanager_memory(configuration)
        InternalSslOptions.from_configuration(configuration)
        PrometheusReporterOptions.from_configuration(configuration)
        if args.metrics_port is not None:
            parse_port_range(args.metrics_port, "--metrics-port")
        token, tls = _security(args, configuration)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if token is None and args.insecure:
        log.warning(insecure_warning(args.host))
    if args.token:
        log.warning("--token shows the token to every local user (process list); "
                    "use --token-file or WEIR_TOKEN")
    config = JobManagerConfig(host=args.host, port=args.port, token=token, tls=tls,
                              taskmanagers=args.taskmanagers, slots=args.slots,
                              max_message_bytes=args.max_message_size,
                              advertised_host=args.advertised_host,
                              taskmanager_bind_host=args.taskmanager_bind_host,
                              configuration=configuration, metrics_port=args.metrics_port)
    init_ray(args.ray_address)
    print(f"Ray cluster at {ray.get_runtime_context().gcs_address}", flush=True)
    try:
        asyncio.run(_serve(config))
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
