"""Host keys from an instance's console output, as cloud-init prints them.

cloud-init's ``keys_to_console`` module writes the host keys straight to the
console between two marker lines, one ``type base64 comment`` per line, after
its ``ec2:``-prefixed fingerprint block::

    ec2: #############################################################
    ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
    ec2: 256 SHA256:... root@ip-10-0-0-5 (ED25519)
    ec2: -----END SSH HOST KEY FINGERPRINTS-----
    ec2: #############################################################
    -----BEGIN SSH HOST KEY KEYS-----
    ssh-ed25519 AAAAC3Nza... root@ip-10-0-0-5
    -----END SSH HOST KEY KEYS-----

The console is one serial line shared by the kernel, syslog and cloud-init, so
other lines may land inside the block; only lines that are a key are kept.
The console is read through EC2's API with the account's credentials, a
channel that does not pass through the instance's network, which is why keys
read there may be trusted before the first SSH connection.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
END = "-----END SSH HOST KEY KEYS-----"

_KEY_TYPES = re.compile(r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+)$")


def _fields_of(blob: bytes) -> list[bytes] | None:
    """The length-prefixed strings a public key blob is made of, or None when they do not fill it exactly."""
    fields, at = [], 0
    while at < len(blob):
        if at + 4 > len(blob):
            return None
        (length,) = struct.unpack(">I", blob[at:at + 4])
        at += 4
        if at + length > len(blob):
            return None
        fields.append(blob[at:at + length])
        at += length
    return fields


def _key_line(line: str) -> str | None:
    """``"type base64"`` when the line is a whole public key whose blob names its own type, else None."""
    fields = line.strip().split()
    if len(fields) < 2 or not _KEY_TYPES.match(fields[0]):
        return None
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        return None
    parts = _fields_of(blob)
    if not parts or len(parts) < 2 or parts[0] != fields[0].encode():
        return None  # cut off or garbled on the serial line
    return f"{fields[0]} {fields[1]}"


def host_keys(console: str | None) -> list[str]:
    """The ``"type base64"`` host keys of the last complete key block in ``console`` ([] when none).

    The last block wins: an instance that booted again (or was given new keys)
    prints a new one after the old.
    """
    if not console:
        return []
    lines = console.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found: list[str] | None = None
    current: list[str] | None = None
    for line in lines:
        text = line.strip()
        if text.endswith(BEGIN):
            current = []
        elif text.endswith(END):
            if current:
                found = current
            current = None
        elif current is not None:
            key = _key_line(text)
            if key and key not in current:
                current.append(key)
    return found or []
