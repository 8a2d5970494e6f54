"""Bearer-token metadata shared by the client and the JobManager."""

from __future__ import annotations

__all__ = ["AUTHORIZATION_KEY", "DEFAULT_MAX_MESSAGE_BYTES", "bearer_metadata", "channel_options"]

AUTHORIZATION_KEY = "authorization"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return ((AUTHORIZATION_KEY, f"Bearer {token}"),) if token else ()


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)]
