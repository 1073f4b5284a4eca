"""Broker administration through Mosquitto's dynamic-security plugin: per-device clients whose
role lets each publish only to its own telemetry topic, and the ingest workers' client.

Commands go as JSON to ``$CONTROL/dynamic-security/v1``; the broker answers each on
``.../response`` with the same ``correlationData``, and an ``error`` string when it failed. Every
verb here is idempotent: provisioning an existing device resets its password and restores its
role; deleting a missing device is not an error.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.connection import new_client, shut_down
from cityops.core.mqtt.topics import (
    command_topic,
    shared_filter,
    telemetry_filter,
    telemetry_topic,
    valid_device_id,
)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DEVICE_ROLE_PREFIX = "cityops-device-"
INGEST_ROLE = "cityops-ingest"
Command = dict[str, Any]


class BrokerError(Exception):
    """The broker could not be reached, refused the admin, or refused a command."""

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class DeviceCredentials:
    """What a device needs to connect; the password is shown once and not stored by cityops."""

    username: str
    password: str
    telemetry_topic: str
    command_topic: str


def _device_role(device_id: str) -> str:
    return DEVICE_ROLE_PREFIX + device_id


def _create_client(username: str, password: str, role: str, textname: str) -> Command:
    return {
        "command": "createClient",
        "username": username,
        "password": password,
        "textname": textname,
        "roles": [{"rolename": role, "priority": 0}],
    }


def _acl(acltype: str, topic: str) -> Command:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _device_acls(creds: DeviceCredentials) -> list[Command]:
    """Publish to its telemetry topic, subscribe to its command topic; all else is denied by
    the plugin's defaults (publishClientSend and subscribe deny)."""
    return [
        _acl("publishClientSend", creds.telemetry_topic),
        _acl("subscribeLiteral", creds.command_topic),
    ]


class BrokerAdmin:
    """A connection to the broker as its dynamic-security administrator.

    Use as a context manager; each method sends its commands and waits for the answers.
    """

    def __init__(
        self,
        address: BrokerAddress,
        *,
        username: str,
        password: str | None,
        topic_prefix: str = "cityops",
        timeout: float = 10.0,
    ) -> None:
        self.address = address
        self.topic_prefix = topic_prefix
        self.timeout = timeout
        self._client = new_client(
            address,
            client_id=f"cityops-admin-{uuid.uuid4().hex[:12]}",
            username=username,
            password=password,
        )
        self._lock = threading.Condition()
        self._responses: dict[str, Command] = {}
        self._connected: ReasonCode | None = None
        self._subscribed = False
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    # -- connection --------------------------------------------------------------------------

    def __enter__(self) -> BrokerAdmin:
        self.connect()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(f"cannot reach the MQTT broker at {self.address}: {exc}") from None
        self._client.loop_start()
        with self._lock:
            self._lock.wait_for(lambda: self._connected is not None, self.timeout)
            reason = self._connected
        if reason is None or reason.is_failure:
            self.close()
            why = "no answer" if reason is None else str(reason)
            raise BrokerError(f"the MQTT broker at {self.address} refused the admin: {why}")
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        with self._lock:
            if not self._lock.wait_for(lambda: self._subscribed, self.timeout):
                self.close()
                raise BrokerError("the broker did not let the admin read control responses")

    def close(self) -> None:
        shut_down(self._client)

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._connected = reason
            self._lock.notify_all()

    def _on_subscribe(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._subscribed = all(not r.is_failure for r in reasons)
            self._lock.notify_all()

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._lock.notify_all()

    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            for response in responses:
                if isinstance(response, dict) and "correlationData" in response:
                    self._responses[str(response["correlationData"])] = response
            self._lock.notify_all()

    # -- commands ----------------------------------------------------------------------------

    def execute(self, commands: Sequence[Command]) -> list[Command]:
        """Send commands in one control message; return the broker's answer to each, in order.

        An answer with an ``error`` key is a refused command; the caller decides whether that
        error is expected (an existing client when creating one) or not (see ``check``).
        """
        tagged = [{**command, "correlationData": uuid.uuid4().hex} for command in commands]
        keys = [command["correlationData"] for command in tagged]
        info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerError(f"cannot send control commands: {info.rc.name}")
        with self._lock:
            done = self._lock.wait_for(
                lambda: all(key in self._responses for key in keys), self.timeout
            )
            answers = [self._responses.pop(key, {}) for key in keys]
        if not done:
            raise BrokerError(
                f"the broker did not answer {commands[0]['command']} within {self.timeout} s"
                " (is the dynamic-security plugin loaded?)",
                command=str(commands[0]["command"]),
            )
        return answers

    def check(self, commands: Sequence[Command], *, tolerate: Sequence[str] = ()) -> list[Command]:
        """Execute, raising BrokerError on any error other than those tolerated (by prefix)."""
        answers = self.execute(commands)
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if error and not any(str(error).startswith(t) for t in tolerate):
                name = str(command["command"])
                raise BrokerError(f"the broker refused {name}: {error}", command=name)
        return answers

    # -- devices -----------------------------------------------------------------------------

    def provision_device(self, device_id: str, *, password: str | None = None) -> DeviceCredentials:
        """Create the device's broker client (username = device id) and its role, or, when it
        exists, set a new password, enable it and restore its role. Returns the credentials;
        the password (generated unless given) is not kept anywhere by cityops."""
        if not valid_device_id(device_id):
            raise BrokerError(f"device id {device_id!r} cannot be a broker username and topic")
        creds = self._credentials(device_id, password or secrets.token_urlsafe(18))
        role = _device_role(device_id)
        self._ensure_role(role, _device_acls(creds))
        self._ensure_client(device_id, creds.password, role, f"cityops device {device_id}")
        return creds

    def provision_devices(
        self, device_ids: Sequence[str], *, chunk: int = 100
    ) -> list[DeviceCredentials]:
        """Provision many devices (an import): new ones in one control message per ``chunk``
        devices, existing ones one by one as ``provision_device`` does."""
        for device_id in device_ids:
            if not valid_device_id(device_id):
                raise BrokerError(f"device id {device_id!r} cannot be a broker username and topic")
        result: list[DeviceCredentials] = []
        for start in range(0, len(device_ids), chunk):
            result.extend(self._provision_chunk(device_ids[start : start + chunk]))
        return result

    def _provision_chunk(self, device_ids: Sequence[str]) -> list[DeviceCredentials]:
        creds = [self._credentials(d, secrets.token_urlsafe(18)) for d in device_ids]
        commands: list[Command] = []
        for c in creds:
            role = _device_role(c.username)
            commands.append({"command": "createRole", "rolename": role, "acls": _device_acls(c)})
            commands.append(
                _create_client(c.username, c.password, role, f"cityops device {c.username}")
            )
        answers = self.check(commands, tolerate=["Role already exists", "Client already exists"])
        existing = {c.username for c, a in zip(creds, answers[1::2], strict=True) if a.get("error")}
        return [self.provision_device(c.username) if c.username in existing else c for c in creds]

    def _credentials(self, device_id: str, password: str) -> DeviceCredentials:
        prefix = self.topic_prefix
        return DeviceCredentials(
            device_id,
            password,
            telemetry_topic(prefix, device_id),
            command_topic(prefix, device_id),
        )

    def set_device_enabled(self, device_id: str, enabled: bool) -> None:
        """Refuse (and disconnect) or allow a device's connections without deleting it."""
        command = "enableClient" if enabled else "disableClient"
        self.check([{"command": command, "username": device_id}])

    def delete_device(self, device_id: str) -> bool:
        """Remove the device's client (the broker disconnects it) and role; False if absent."""
        answers = self.check(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": _device_role(device_id)},
            ],
            tolerate=["Client not found", "Role not found"],
        )
        return not answers[0].get("error")

    def device_exists(self, device_id: str) -> bool:
        answer = self.check(
            [{"command": "getClient", "username": device_id}], tolerate=["Client not found"]
        )
        return not answer[0].get("error")

    # -- the ingest workers ------------------------------------------------------------------

    def ensure_ingest_client(
        self, username: str, password: str, *, share_group: str, role: str = INGEST_ROLE
    ) -> None:
        """The client the ingest workers connect as: it may subscribe to every device's
        telemetry, directly or through the shared subscription, and publish nothing."""
        # Mosquitto 2.0 checks a shared subscription's ACL against the whole $share/... filter.
        acls = [
            _acl("subscribePattern", telemetry_filter(self.topic_prefix)),
            _acl("subscribePattern", shared_filter(share_group, self.topic_prefix)),
        ]
        self._ensure_role(role, acls)
        self._ensure_client(username, password, role, "cityops ingest workers")

    def remove_ingest_client(self, username: str, *, role: str = INGEST_ROLE) -> None:
        self.check(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": role},
            ],
            tolerate=["Client not found", "Role not found"],
        )

    def _ensure_client(self, username: str, password: str, role: str, textname: str) -> None:
        created = self.check(
            [_create_client(username, password, role, textname)],
            tolerate=["Client already exists"],
        )
        if not created[0].get("error"):
            return
        answers = self.check(
            [
                {"command": "getClient", "username": username},
                {"command": "setClientPassword", "username": username, "password": password},
                {"command": "enableClient", "username": username},
            ]
        )
        roles = answers[0].get("data", {}).get("client", {}).get("roles", [])
        if role not in {r.get("rolename") for r in roles}:
            self.check([{"command": "addClientRole", "username": username, "rolename": role}])

    def _ensure_role(self, role: str, acls: list[Command]) -> None:
        created = self.check(
            [{"command": "createRole", "rolename": role, "acls": acls}],
            tolerate=["Role already exists"],
        )
        if created[0].get("error"):
            # An existing role gets any ACL it lacks (after a prefix change, say).
            self.check(
                [{"command": "addRoleACL", "rolename": role, **acl} for acl in acls],
                tolerate=["ACL with this topic already exists"],
            )
