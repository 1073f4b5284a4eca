"""The device topics: ``{prefix}/devices/{device_id}/telemetry`` (publish) and
``{prefix}/devices/{device_id}/commands`` (subscribe). Pure functions, no I/O."""

from __future__ import annotations

import re

# A device id is also its broker username and one topic level: no '/', '+', '#', no spaces.
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_SHARE_GROUP = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def valid_device_id(device_id: str) -> bool:
    return DEVICE_ID.fullmatch(device_id) is not None


def check_prefix(prefix: str) -> str:
    """A topic prefix: one or more plain levels, no wildcards, not a ``$`` system topic."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("must be topic levels of letters, digits, '_', '.', '-' joined by '/'")
    return prefix


def check_share_group(group: str) -> str:
    if not _SHARE_GROUP.fullmatch(group):
        raise ValueError("must be 1-64 letters, digits, '_', '.', '-'")
    return group


def telemetry_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/devices/{device_id}/telemetry"


def command_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/devices/{device_id}/commands"


def telemetry_filter(prefix: str) -> str:
    """The filter that matches every device's telemetry topic."""
    return f"{prefix}/devices/+/telemetry"


def shared_filter(group: str, prefix: str) -> str:
    """The MQTT v5 shared subscription through which ingest workers split the stream."""
    return f"$share/{group}/{telemetry_filter(prefix)}"


class TopicParser:
    """Extracts the device id from a telemetry topic; None for any other topic."""

    def __init__(self, prefix: str) -> None:
        self._head = f"{prefix}/devices/"
        self._tail = "/telemetry"

    def device_id(self, topic: str) -> str | None:
        if not (topic.startswith(self._head) and topic.endswith(self._tail)):
            return None
        device_id = topic[len(self._head) : len(topic) - len(self._tail)]
        return device_id if valid_device_id(device_id) else None
