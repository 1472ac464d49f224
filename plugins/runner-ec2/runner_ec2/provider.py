"""The ``ec2`` provider: each instance of a stack is an EC2 instance, found again by its tags.

An instance is tagged ``runner:stack`` (the stack's name), ``runner:instance``
(the instance's name), ``runner:layers`` and ``Name`` (its hostname), plus the
user's ``tags``. Every call asks EC2 which instances carry the stack's tag, so
a second ``start`` creates nothing, and instances made by Terraform or by
hand with those tags are adopted. Options are per instance (instance over
layer over stack); instances whose region or endpoint differ are asked about
separately.

``start`` waits, bounded by ``wait_timeout`` and polling every
``poll_interval`` seconds, for ``running`` and then, unless told not to
(``wait_for_ssh=False``, what ``--no-lifecycle`` gives), for the host keys in
the console output (``host_key_policy: strict``; recorded in the stack's
known_hosts) and for sshd's banner at the chosen address.
"""

from __future__ import annotations

import difflib
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import HostError, Location, RunnerError, UserError
from runner.model.stack import Stack
from runner.providers.api import (
    HEAL_REPLACE,
    HEAL_RESTART,
    MISSING,
    ONLINE,
    PENDING,
    SHUTTING_DOWN,
    STOPPED,
    STOPPING,
    TERMINATED,
    HostAddress,
    InstanceState,
    Provider,
)
from runner.ssh import known_hosts
from runner_ec2 import console
from runner_ec2.aws import Clients, aws_errors
from runner_ec2.options import OPTIONS, REQUIRED, Settings, check_value

TAG_STACK = "runner:stack"
TAG_INSTANCE = "runner:instance"
TAG_LAYERS = "runner:layers"
MAX_PARALLEL = 16

#: EC2's instance states and OpsWorks' words for them.
STATES = {"pending": PENDING, "running": ONLINE, "stopping": STOPPING, "stopped": STOPPED,
          "shutting-down": SHUTTING_DOWN, "terminated": TERMINATED}
#: Which of several EC2 instances with one instance's tags counts (the most alive).
_PREFERENCE = ("running", "pending", "stopping", "stopped", "shutting-down", "terminated")
_LIVE = ("pending", "running", "stopping", "stopped")


@dataclass(frozen=True)
class Found:
    """One EC2 instance of the stack, as describe_instances tells it."""

    instance_id: str
    state: str
    instance_type: str
    public_address: str | None
    private_address: str | None
    root_device_type: str
    image_id: str
    others: tuple[str, ...] = ()  # more non-terminated EC2 instances with the same tags

    @classmethod
    def of(cls, item: dict[str, Any]) -> "Found":
        return cls(item["InstanceId"], item.get("State", {}).get("Name", "pending"), item.get("InstanceType", ""),
                   item.get("PublicIpAddress"), item.get("PrivateIpAddress"),
                   item.get("RootDeviceType", "ebs"), item.get("ImageId", ""))


class Ec2Provider(Provider):
    name = "ec2"
    description = "EC2 instances, tagged with the stack and instance and found again by those tags"
    option_types = OPTIONS

    def __init__(self, stack: Stack, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(stack)
        errors = self.check_options(stack)
        if errors:
            raise errors[0]
        self.clients = Clients()
        self.sleep = sleep
        self._image_roots: dict[tuple[Any, str], str] = {}

    # -- options ----------------------------------------------------------

    @classmethod
    def check_option(cls, key: str, value: Any) -> str | None:
        return check_value(key, value)

    @classmethod
    def check_options(cls, stack: Stack) -> list[UserError]:
        errors = super().check_options(stack)
        if errors:
            return errors
        for name in stack.instances:
            options = stack.provider_options_for(name)
            missing = [key for key in REQUIRED if key not in options]
            if missing:
                errors.append(UserError(
                    f"ec2 instance {name!r} has no {' and no '.join(missing)}", stack.where("instances", name),
                    hint=f"set provider_options {', '.join(missing)} on the stack, its layer or the instance"))
        return errors

    def settings(self, name: str) -> Settings:
        return Settings.of(self.options_for(name))

    def where_option(self, name: str, key: str) -> Location:
        """Where ``key`` of an instance's options is set (the instance, then its layers, then the stack)."""
        inst = self.stack.instances[name]
        if key in inst.provider_options:
            return self.stack.where("instances", name, "provider_options", key)
        for layer in inst.layers:
            if layer in self.stack.layers and key in self.stack.layers[layer].provider_options:
                return self.stack.where("layers", layer, "provider_options", key)
        if key in self.stack.provider_options:
            return self.stack.where("stack", "provider_options", key)
        return self.stack.where("stack", "provider")

    def _client(self, name: str) -> Any:
        region, endpoint = self.settings(name).endpoint
        return self.clients.get(region, endpoint, self.where_option(name, "region"))

    # -- finding ----------------------------------------------------------

    def _checked_names(self, names: Sequence[str] | None) -> list[str]:
        wanted = self._names(names)
        for name in wanted:
            if name not in self.stack.instances:
                close = difflib.get_close_matches(name, list(self.stack.instances), n=1)
                raise UserError(f"unknown instance {name!r}", hint=f"did you mean {close[0]!r}?" if close else None)
        return wanted

    def find(self, names: Sequence[str], made: list[str] | None = None) -> dict[str, Found]:
        """The stack's EC2 instances by instance name (terminated ones only when nothing else has the tags)."""
        groups: dict[tuple[str | None, str | None], list[str]] = {}
        for name in names:
            groups.setdefault(self.settings(name).endpoint, []).append(name)
        found: dict[str, Found] = {}
        for group in groups.values():
            client = self._client(group[0])
            items: dict[str, list[dict[str, Any]]] = {}
            with aws_errors("describe the stack's instances", self.where_option(group[0], "region"), made):
                pages = client.get_paginator("describe_instances").paginate(
                    Filters=[{"Name": f"tag:{TAG_STACK}", "Values": [self.stack.name]}])
                for page in pages:
                    for reservation in page.get("Reservations", []):
                        for item in reservation.get("Instances", []):
                            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                            items.setdefault(tags.get(TAG_INSTANCE, ""), []).append(item)
            for name in group:
                candidates = sorted(items.get(name, []), key=lambda i: _PREFERENCE.index(
                    i.get("State", {}).get("Name", "terminated")) if i.get("State", {}).get("Name") in _PREFERENCE
                    else len(_PREFERENCE))
                if candidates:
                    first = Found.of(candidates[0])
                    others = tuple(i["InstanceId"] for i in candidates[1:]
                                   if i.get("State", {}).get("Name") in _LIVE)
                    found[name] = Found(**{**first.__dict__, "others": others})
        return found

    def _host(self, name: str, item: Found) -> HostAddress | None:
        address = item.public_address if self.settings(name).address == "public" else item.private_address
        if not address:
            return None
        return HostAddress(name, self.stack.instances[name].hostname, address, self.stack.ssh.port,
                           private_address=item.private_address)

    def _state(self, name: str, item: Found | None) -> InstanceState:
        if item is None:
            return InstanceState(name, MISSING)
        details: dict[str, Any] = {
            "instance_id": item.instance_id, "instance_type": item.instance_type, "ec2_state": item.state,
            "public_address": item.public_address, "private_address": item.private_address,
            "root_device_type": item.root_device_type,
        }
        if item.others:
            details["duplicates"] = list(item.others)
        status = STATES.get(item.state, item.state)
        host = self._host(name, item) if status == ONLINE else None
        if status == ONLINE and host is None:
            details["problem"] = f"no {self.settings(name).address} address (provider_options address)"
        return InstanceState(name, status, host, details)

    # -- Provider ---------------------------------------------------------

    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = self.find(wanted) if wanted else {}
        return [self._state(name, found.get(name)) for name in wanted]

    def start(self, names: Sequence[str] | None = None, *, wait_for_ssh: bool = True) -> list[InstanceState]:
        wanted = self._checked_names(names)
        if not wanted:
            return []
        found = {n: f for n, f in self.find(wanted).items() if f.state in _LIVE}
        made: list[str] = []
        ids: dict[str, str] = {}
        for name in wanted:  # the API calls, one after the other: an error knows what was already made
            item = found.get(name)
            if item is None:
                ids[name] = self._create(name, made)
                made.append(f"{name} ({ids[name]})")
                continue
            ids[name] = item.instance_id
            if item.state == "stopping":
                self._wait_state(name, item.instance_id, ("stopped",), made)
            if item.state in ("stopping", "stopped"):
                with aws_errors(f"start {name} ({item.instance_id})", made=made):
                    self._client(name).start_instances(InstanceIds=[item.instance_id])
                made.append(f"{name} ({item.instance_id})")

        def bring_up(name: str) -> InstanceState:
            item = self._wait_state(name, ids[name], ("running",), made)
            state = self._state(name, item)
            if state.host is None:
                raise HostError(name, f"EC2 instance {item.instance_id} is running but has "
                                      f"{state.details.get('problem', 'no address')}")
            if wait_for_ssh:
                self._trust_and_wait(name, item, state.host)
            return state

        return _parallel(bring_up, wanted)

    def _create(self, name: str, made: list[str]) -> str:
        settings = self.settings(name)
        inst = self.stack.instances[name]
        client = self._client(name)
        if settings.root_device_type:
            actual = self._image_root(name, client, settings.image_id, made)
            if actual and actual != settings.root_device_type:
                raise UserError(f"image {settings.image_id} is {actual}-backed, but root_device_type says "
                                f"{settings.root_device_type}", self.where_option(name, "root_device_type"),
                                hint="use an image of that root device type, or change root_device_type")
        tags = {**settings.tags, TAG_STACK: self.stack.name, TAG_INSTANCE: name,
                TAG_LAYERS: ",".join(inst.layers), "Name": inst.hostname}
        request: dict[str, Any] = {
            "ImageId": settings.image_id, "InstanceType": settings.instance_type, "MinCount": 1, "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                                  for kind in ("instance", "volume")],
        }
        if settings.subnet_id:
            request["SubnetId"] = settings.subnet_id
        if settings.security_group_ids:
            request["SecurityGroupIds"] = list(settings.security_group_ids)
        if settings.key_name:
            request["KeyName"] = settings.key_name
        with aws_errors(f"create {name} (RunInstances)", self.where_option(name, "image_id"), made):
            reply = client.run_instances(**request)
        return str(reply["Instances"][0]["InstanceId"])

    def _image_root(self, name: str, client: Any, image_id: str, made: list[str] | None = None) -> str | None:
        """The root device type of an image (``ebs`` or ``instance-store``), asked once per image."""
        key = (id(client), image_id)
        if key not in self._image_roots:
            with aws_errors(f"describe image {image_id}", self.where_option(name, "image_id"), made):
                images = client.describe_images(ImageIds=[image_id]).get("Images", [])
            self._image_roots[key] = images[0].get("RootDeviceType", "") if images else ""
        return self._image_roots[key] or None

    def _describe(self, name: str, instance_id: str, made: list[str] | None) -> Found:
        with aws_errors(f"describe {name} ({instance_id})", made=made):
            reply = self._client(name).describe_instances(InstanceIds=[instance_id])
        items = [i for r in reply.get("Reservations", []) for i in r.get("Instances", [])]
        if not items:
            raise HostError(name, f"EC2 instance {instance_id} is gone")
        return Found.of(items[0])

    def _wait_state(self, name: str, instance_id: str, wanted: tuple[str, ...], made: list[str] | None) -> Found:
        """Poll until the instance is in one of ``wanted``; bounded by ``wait_timeout``."""
        settings = self.settings(name)
        deadline = time.monotonic() + settings.wait_timeout
        while True:
            item = self._describe(name, instance_id, made)
            if item.state in wanted:
                return item
            if item.state in ("shutting-down", "terminated") and "terminated" not in wanted:
                raise HostError(name, f"EC2 instance {instance_id} is {item.state}, it will not be "
                                      f"{' or '.join(wanted)}", cause="start_failed")
            if time.monotonic() >= deadline:
                raise HostError(name, f"EC2 instance {instance_id} is still {item.state} after "
                                      f"{settings.wait_timeout:g} s (wanted {' or '.join(wanted)})", cause="timeout")
            self.sleep(settings.poll_interval)

    def _trust_and_wait(self, name: str, item: Found, host: HostAddress) -> None:
        """Record the host keys from the console (strict policy), then wait for sshd's banner."""
        settings = self.settings(name)
        port = host.port or 22
        if self.stack.ssh.host_key_policy == "strict":
            keys, here = recorded_keys(self.stack.known_hosts_path, host.address, port, item.instance_id)
            if not here:  # a new instance, or a new address after a stop and start: its keys are the same
                keys = keys or self._console_keys(name, item.instance_id, settings)
                known_hosts.record_keys(self.stack.known_hosts_path, host.address, port, keys,
                                        comment=item.instance_id)
        deadline = time.monotonic() + settings.wait_timeout
        while not _banner(host.address, port):
            if time.monotonic() >= deadline:
                raise HostError(name, f"sshd on {host.address}:{port} ({item.instance_id}) did not answer within "
                                      f"{settings.wait_timeout:g} s", cause="timeout")
            self.sleep(settings.poll_interval)

    def _console_keys(self, name: str, instance_id: str, settings: Settings) -> list[str]:
        deadline = time.monotonic() + settings.wait_timeout
        while True:
            with aws_errors(f"read the console of {name} ({instance_id})"):
                reply = self._client(name).get_console_output(InstanceId=instance_id)
            keys = console.host_keys(reply.get("Output"))
            if keys:
                return keys
            if time.monotonic() >= deadline:
                raise HostError(
                    name, f"the console output of {instance_id} shows no SSH host keys after "
                          f"{settings.wait_timeout:g} s (cloud-init prints them between {console.BEGIN} and "
                          f"{console.END}); without them the host cannot be trusted under host_key_policy: strict: "
                          "use an image with cloud-init, or set ssh.host_key_policy: accept-new in stack.yml",
                    cause="host_key")
            self.sleep(settings.poll_interval)

    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = {n: f for n, f in self.find(wanted).items() if f.state in ("pending", "running", "stopping")}
        refused = [n for n, f in found.items() if self._instance_store(n, f)]
        if refused:
            raise UserError(
                f"cannot stop {', '.join(refused)}: EC2 cannot stop instance-store-backed instances "
                "(their root volume lives on the host and is lost)",
                hint="`runner instances destroy` them instead (they are made anew on the next start), "
                     "or use an EBS-backed image (root_device_type: ebs)")
        stopped: list[str] = []
        for name, item in found.items():
            if item.state != "stopping":
                with aws_errors(f"stop {name} ({item.instance_id})", made=stopped):
                    self._client(name).stop_instances(InstanceIds=[item.instance_id])
                stopped.append(f"{name} ({item.instance_id})")
        _parallel(lambda n: self._wait_state(n, found[n].instance_id, ("stopped",), stopped), list(found))
        return self.status(wanted)

    def heal_mode(self, instance: str) -> str:
        """``replace`` for an instance-store-backed instance (EC2 cannot stop it), else ``restart``.

        Its settings' ``root_device_type`` decides; without one, the EC2 instance that has its tags
        (or that instance's image). Replacing terminates it; the next start makes a new one
        with the same tags (terminated instances are never adopted).
        """
        if self.settings(instance).root_device_type == "instance-store":
            return HEAL_REPLACE
        item = self.find([instance]).get(instance)
        if item is not None and item.state in _LIVE and self._instance_store(instance, item):
            return HEAL_REPLACE
        return HEAL_RESTART

    def _instance_store(self, name: str, item: Found) -> bool:
        if item.root_device_type == "instance-store" or self.settings(name).root_device_type == "instance-store":
            return True
        return self._image_root(name, self._client(name), item.image_id) == "instance-store"

    def destroy(self, names: Sequence[str] | None = None) -> None:
        wanted = self._checked_names(names)
        found = {n: f for n, f in self.find(wanted).items() if f.state != "terminated"}
        done: list[str] = []
        for name, item in found.items():
            doomed = [item.instance_id, *item.others]
            with aws_errors(f"terminate {name} ({', '.join(doomed)})", made=done):
                self._client(name).terminate_instances(InstanceIds=doomed)
            done.append(f"{name} ({item.instance_id})")
        known_hosts.forget(self.stack.known_hosts_path, comments=[f.instance_id for f in found.values()])
        _parallel(lambda n: self._wait_state(n, found[n].instance_id, ("terminated",), done), list(found))


def recorded_keys(path: Path, address: str, port: int, instance_id: str) -> tuple[list[str], bool]:
    """The keys recorded for an EC2 instance (by its id, the lines' comment), and whether for address:port.

    cloud-init prints the keys on the console at the first boot only, and the
    console keeps only its last 64 KB: once read, an instance's keys are taken
    from known_hosts again, for a new public address after a stop and start too.
    """
    if not path.exists():
        return [], False
    pattern = known_hosts.host_pattern(address, port)
    keys: list[str] = []
    here = False
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("@") and fields[3] == instance_id:
            key = f"{fields[1]} {fields[2]}"
            if key not in keys:
                keys.append(key)
            here = here or pattern in fields[0].split(",")
    return keys, here


def _parallel(work: Callable[[str], Any], names: list[str]) -> list[Any]:
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(names))) as pool:
        futures = [pool.submit(work, name) for name in names]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result())
            except RunnerError as exc:
                errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RunnerError("\n".join(str(e) for e in errors))
    return results


def _banner(address: str, port: int) -> bool:
    """True when something at address:port speaks SSH."""
    try:
        with socket.create_connection((address, port), timeout=2.0) as sock:
            sock.settimeout(2.0)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False
