"""Host keys from EC2 console output, on text in cloud-init's format (kernel, syslog and cloud-init interleaved)."""

from __future__ import annotations

import base64
import struct

from runner_ec2.console import BEGIN, END, host_keys


def blob(kind: str, body: bytes = b"\x01" * 32) -> str:
    """A well-formed public key blob of ``kind`` (a length-prefixed type name, then key material)."""
    name = kind.encode()
    return base64.b64encode(struct.pack(">I", len(name)) + name + struct.pack(">I", len(body)) + body).decode()


ED = blob("ssh-ed25519")
ECDSA = blob("ecdsa-sha2-nistp256", b"\x02" * 65)
RSA = blob("ssh-rsa", b"\x03" * 200)

CONSOLE = f"""\
[    0.000000] Linux version 6.1.0-13-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0)
[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-13-cloud-amd64 root=PARTUUID=4b1e console=tty0 console=ttyS0
[    5.712311] cloud-init[512]: Cloud-init v. 22.4.2 running 'init' at Thu, 06 Jan 2022 15:27:20 +0000. Up 5.60 seconds.
[    6.100871] cloud-init[512]: Generating public/private ed25519 key pair.
[    6.101009] cloud-init[512]: Your identification has been saved in /etc/ssh/ssh_host_ed25519_key
[    6.101322] cloud-init[512]: The key fingerprint is:
[    6.101488] cloud-init[512]: SHA256:BOyEUuM4iXqSIlaoCcp+wOsLB3w+ZBZLPxxNdEY7WkQ root@ip-10-0-1-17
<14>Jan  6 15:27:31 cloud-init: #############################################################
<14>Jan  6 15:27:31 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----
<14>Jan  6 15:27:31 cloud-init: 256 SHA256:8KKnft4X6/5ANZjy4c9Pf8nLPghM25r2h7KQCcmMWJQ root@ip-10-0-1-17 (ECDSA)
<14>Jan  6 15:27:31 cloud-init: 256 SHA256:BOyEUuM4iXqSIlaoCcp+wOsLB3w+ZBZLPxxNdEY7WkQ root@ip-10-0-1-17 (ED25519)
<14>Jan  6 15:27:32 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----
<14>Jan  6 15:27:32 cloud-init: #############################################################
ec2:
ec2: #############################################################
ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
ec2: 256 SHA256:8KKnft4X6/5ANZjy4c9Pf8nLPghM25r2h7KQCcmMWJQ root@ip-10-0-1-17 (ECDSA)
ec2: 256 SHA256:BOyEUuM4iXqSIlaoCcp+wOsLB3w+ZBZLPxxNdEY7WkQ root@ip-10-0-1-17 (ED25519)
ec2: 3072 SHA256:GYvOtfpGNz7ILw0XZPkKOVZZZ/rRmafsDE1vcq5vptA root@ip-10-0-1-17 (RSA)
ec2: -----END SSH HOST KEY FINGERPRINTS-----
ec2: #############################################################
{BEGIN}
ecdsa-sha2-nistp256 {ECDSA} root@ip-10-0-1-17
ssh-ed25519 {ED} root@ip-10-0-1-17
ssh-rsa {RSA} root@ip-10-0-1-17
{END}
[   17.197933] cloud-init[1278]: Cloud-init v. 22.4.2 finished at Thu, 06 Jan 2022 15:27:33 +0000. Up 17.19 seconds
"""


def test_keys_between_the_markers_without_their_comments():
    assert host_keys(CONSOLE) == [f"ecdsa-sha2-nistp256 {ECDSA}", f"ssh-ed25519 {ED}", f"ssh-rsa {RSA}"]


def test_the_fingerprint_block_alone_gives_no_keys():
    before_keys = CONSOLE.split(BEGIN)[0]
    assert "BEGIN SSH HOST KEY FINGERPRINTS" in before_keys and host_keys(before_keys) == []


def test_no_console_yet_and_a_block_still_being_written():
    assert host_keys(None) == [] and host_keys("") == []
    assert host_keys(CONSOLE.split(END)[0]) == []  # the END line has not reached the console yet


def test_carriage_returns_of_a_serial_console():
    assert host_keys(CONSOLE.replace("\n", "\r\n")) == host_keys(CONSOLE)


def test_lines_of_other_writers_inside_the_block_are_skipped():
    noisy = CONSOLE.replace(f"ssh-ed25519 {ED}", f"[   16.9] random: crng init done\nssh-ed25519 {ED}")
    noisy = noisy.replace(f"ssh-rsa {RSA}", f"<14>Jan  6 15:27:32 cloud-init: hello\nssh-rsa {RSA}")
    assert host_keys(noisy) == host_keys(CONSOLE)


def test_a_key_cut_off_on_the_serial_line_is_dropped():
    cut = CONSOLE.replace(f"ssh-rsa {RSA}", f"ssh-rsa {RSA[:60]}")
    assert host_keys(cut) == [f"ecdsa-sha2-nistp256 {ECDSA}", f"ssh-ed25519 {ED}"]
    lying = CONSOLE.replace(f"ssh-rsa {RSA}", f"ssh-rsa {ED}")  # a blob that names another type
    assert f"ssh-rsa {ED}" not in host_keys(lying)


def test_the_last_complete_block_wins():
    other = blob("ssh-ed25519", b"\x09" * 32)
    rebooted = CONSOLE + f"[    0.000000] Linux version 6.1.0\n{BEGIN}\nssh-ed25519 {other} root@ip-10-0-1-17\n{END}\n"
    assert host_keys(rebooted) == [f"ssh-ed25519 {other}"]


def test_markers_after_a_prefix_count_too():
    prefixed = CONSOLE.replace(BEGIN, f"[   17.1] cloud-init[1278]: {BEGIN}")
    assert host_keys(prefixed) == host_keys(CONSOLE)


def test_keys_once_read_are_found_again_by_instance_id(tmp_path):
    from runner_ec2.provider import recorded_keys

    from runner.ssh import known_hosts

    path = tmp_path / "known_hosts"
    assert recorded_keys(path, "203.0.113.5", 22, "i-1") == ([], False)
    keys = [f"ssh-ed25519 {ED}", f"ssh-rsa {RSA}"]
    known_hosts.record_keys(path, "203.0.113.5", 22, keys, comment="i-1")
    known_hosts.record(path, "203.0.113.9", 22, f"ssh-ed25519 {blob('ssh-ed25519', b'x' * 32)}", comment="i-2")
    assert recorded_keys(path, "203.0.113.5", 22, "i-1") == (keys, True)
    assert recorded_keys(path, "203.0.113.77", 22, "i-1") == (keys, False)  # a new address after stop/start
    known_hosts.record_keys(path, "203.0.113.77", 22, keys, comment="i-1")  # what start does with them
    assert known_hosts.lookup(path, "203.0.113.5", 22) == []  # the old address is dropped with its comment
    assert recorded_keys(path, "203.0.113.77", 22, "i-1") == (keys, True)
