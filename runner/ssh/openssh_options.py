"""The pure parts of the openssh transport: its command lines, its control socket names, and what ssh's
stderr means (turned into the same HostError causes and words as the paramiko transport's).

Kept apart from :mod:`runner.ssh.openssh` (which runs processes) so they are tested without a host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import shlex
import threading
from pathlib import Path

from runner.errors import HostError
from runner.ssh.target import SshTarget

#: what a control socket's name is derived from besides the target; bump it when the options change meaning
NAME_VERSION = "runner-openssh-1"
#: sun_path is 104 bytes on the BSDs (108 on Linux); ssh binds ``<path>.<16 random chars>`` first, then renames
SUN_PATH_MAX = 104
TEMP_SUFFIX = 17


def _seconds(value: float) -> int:
    """ssh takes whole seconds; never round a setting down to 0 (which means "off" or "forever" to ssh)."""
    return max(1, math.ceil(value))


#: ssh's own list of key exchanges without the post-quantum hybrids (sntrup761x25519 in OpenSSH 9, ML-KEM
#: in 10): a pattern to remove, so an ssh that knows neither accepts it too, and curve25519 leads.
CLASSIC_KEX = "-sntrup*,mlkem*"


def destination(target: SshTarget) -> str:
    """What ssh is asked to connect to: the name ~/.ssh/config knows the host by, so its Host blocks apply."""
    return target.config_host or target.address


def _quoted_files(paths: list[Path]) -> str:
    return " ".join('"' + str(p).replace('"', "") + '"' for p in paths)


def host_key_options(target: SshTarget) -> list[str]:
    """``-o`` options for the target's host key policy (the same three as the paramiko transport's)."""
    policy = target.host_key_policy
    if policy == "off":
        return ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "GlobalKnownHostsFile=/dev/null"]
    files = [p for p in (target.known_hosts, *target.system_known_hosts) if p is not None]
    options = ["-o", f"StrictHostKeyChecking={'accept-new' if policy == 'accept-new' else 'yes'}"]
    if files:  # the first is where accept-new writes: the stack's own file
        options += ["-o", f"UserKnownHostsFile={_quoted_files(files)}"]
    return options + ["-o", "HashKnownHosts=no", "-o", "UpdateHostKeys=no", "-o", "CheckHostIP=no"]


def base_options(target: SshTarget, control_path: Path) -> list[str]:
    """Every option but the ones that say what to run: the same for the master and each command."""
    options = ["-F", str(target.config_file)] if target.config_file else []
    options += [
        "-p", str(target.port), "-l", target.user,
        "-o", "BatchMode=yes",  # never prompt: a missing key or password is an error, at once
        "-o", f"ConnectTimeout={_seconds(target.connect_timeout)}",
        "-o", f"ServerAliveInterval={_seconds(target.keepalive_interval)}",
        "-o", f"ServerAliveCountMax={target.keepalive_count}",
        "-o", f"ControlPath={control_path}",
        "-o", "LogLevel=ERROR",  # no "Permanently added" chatter; errors still come
    ]
    for key in target.key_files:
        options += ["-i", str(key)]
    if target.key_files:
        options += ["-o", "IdentitiesOnly=yes"]
    if not target.use_agent:
        options += ["-o", "IdentityAgent=none"]
    if target.kex == "classic":  # without the post-quantum hybrids, whose key generation costs ~80 ms of CPU
        options += ["-o", f"KexAlgorithms={CLASSIC_KEX}"]
    return options + host_key_options(target)


def master_command(ssh: str, target: SshTarget, control_path: Path) -> list[str]:
    """Start a master that goes to the background once authenticated and exits ``persist`` s after its last use."""
    return [ssh, *base_options(target, control_path), "-o", "ControlMaster=yes",
            "-o", f"ControlPersist={_seconds(target.persist)}", "-N", "-f", "--", destination(target)]


def command_line(ssh: str, target: SshTarget, control_path: Path, wire: str) -> list[str]:
    """Run ``wire`` over the master (ControlMaster=no: a command never becomes a master that holds our pipes)."""
    return [ssh, *base_options(target, control_path), "-o", "ControlMaster=no", "-T", "--",
            destination(target), wire]


def check_command(ssh: str, control_path: Path) -> list[str]:
    """Ask the master at ``control_path`` whether it runs (exit 0) without reading any config."""
    return [ssh, "-F", "/dev/null", "-o", f"ControlPath={control_path}", "-O", "check", "runner-master"]


# -- control socket names -------------------------------------------------------------------------


def _hashed_match(field: str, name: str) -> bool:
    """Whether a hashed known_hosts host field (``|1|salt|hash``) is ``name``."""
    parts = field.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return False
    try:
        salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
    except ValueError:
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)


class _KnownLines:
    """One version of a known_hosts file, split once: plain host fields indexed, hashed and marker lines apart."""

    def __init__(self, path: Path, text: str):
        self.plain: dict[str, list[str]] = {}
        self.hashed: list[tuple[str, str]] = []  # (host field, the line as found)
        self.markers: list[str] = []  # @cert-authority, @revoked: they decide for every host
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 3 or fields[0].startswith("#"):
                continue
            entry = f"{path}: {' '.join(fields)}"
            if fields[0].startswith("@"):
                self.markers.append(entry)
                continue
            for host in fields[0].split(","):
                if host.startswith("|1|"):
                    self.hashed.append((host, entry))
                else:
                    self.plain.setdefault(host, []).append(entry)

    def lines_for(self, name: str) -> list[str]:
        found = list(self.markers) + self.plain.get(name, [])
        found += [entry for host, entry in self.hashed if _hashed_match(host, name)]
        return sorted(set(found), key=found.index)


_known_cache: dict[Path, tuple[tuple[int, int, int], _KnownLines]] = {}
_known_lock = threading.Lock()


def _known_lines(path: Path) -> _KnownLines | None:
    """The file split once per version (inode, mtime, size), not once per host and call."""
    try:
        st = path.stat()
    except OSError:
        return None
    version = (st.st_ino, st.st_mtime_ns, st.st_size)
    with _known_lock:
        hit = _known_cache.get(path)
    if hit is not None and hit[0] == version:
        return hit[1]
    try:
        parsed = _KnownLines(path, path.read_text(errors="replace"))
    except OSError:
        return None
    with _known_lock:
        _known_cache[path] = (version, parsed)
    return parsed


def known_entries(target: SshTarget) -> list[str]:
    """The known_hosts lines that decide whether the host's key is trusted, from every file ssh reads.

    The host's own lines (plain or hashed) and every marker line (@cert-authority, @revoked).
    """
    name = target.known_hosts_name
    found: list[str] = []
    for path in (target.known_hosts, *target.system_known_hosts):
        if path is None:
            continue
        parsed = _known_lines(path)
        if parsed is not None:
            found += parsed.lines_for(name)
    return found


def _file_version(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        st = path.stat()
    except OSError:
        return "missing"
    key = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    with _known_lock:
        digest = _digests.get(key)
    if digest is None:
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return "missing"
        with _known_lock:
            _digests[key] = digest
    return digest


_digests: dict[tuple[Path, int, int, int], str] = {}


def control_name(target: SshTarget, ssh: str = "ssh") -> str:
    """A short name for the master of ``target``, from everything that decides what it connects to and trusts.

    That includes the host's known_hosts lines as they are now: once the user removes or changes the
    host's key, the old master's name is never asked for again, and a new master checks the key afresh.
    The persist time is left out (it does not change what a master is connected to).
    """
    parts = [
        NAME_VERSION, ssh, destination(target), target.address, str(target.port), target.user,
        *(f"key {k}" for k in target.key_files), f"agent {target.use_agent}", target.host_key_policy,
        f"known {target.known_hosts}", *(f"system {p}" for p in target.system_known_hosts),
        f"config {target.config_file} {_file_version(target.config_file)}",
        f"alive {target.keepalive_interval} {target.keepalive_count}",
        *known_entries(target),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).digest()
    return base64.b32encode(digest[:10]).decode().lower()  # 16 characters


def fits(directory: Path) -> bool:
    """Whether control sockets in ``directory`` (and ssh's temporary names for them) fit in sun_path."""
    return len(str(directory).encode()) + 1 + 16 + 5 + TEMP_SUFFIX <= SUN_PATH_MAX  # "<name>.lock" is longer


# -- what ssh's stderr says -------------------------------------------------------------------------------


def _where(target: SshTarget) -> str:
    return f" ({target.user}@{target.address}:{target.port})"


def _fail(target: SshTarget, message: str, cause: str, show_target: bool = True) -> HostError:
    return HostError(target.name, message + (_where(target) if show_target else ""), cause)


def _fingerprint(base64_key: str) -> str:
    try:
        raw = base64.b64decode(base64_key)
    except ValueError:
        return "?"
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


_KEY_TYPE = {"ED25519": "ssh-ed25519", "RSA": "ssh-rsa", "ECDSA": "ecdsa-sha2-nistp256", "DSA": "ssh-dss"}


def _changed_key(target: SshTarget, text: str) -> HostError:
    got = re.search(r"fingerprint for the (\S+) key sent by the remote host is\s*(SHA256:\S+?)\.?\s", text + " ")
    key_type = _KEY_TYPE.get(got.group(1).upper(), got.group(1)) if got else ""
    expected = ""
    for entry in known_entries(target):
        fields = entry.split(": ", 1)[1].split()
        if fields[0].startswith("@"):
            continue
        if not key_type or fields[1] == key_type or fields[1].startswith(key_type.split("-")[0] + "-"):
            expected = f"{fields[1]} {_fingerprint(fields[2])}"
            break
    known = target.known_hosts or "known_hosts"
    return _fail(target,
                 f"host key changed: expected {expected or 'the recorded key'}, "
                 f"got {got.group(2) if got else 'another key'}; refusing to connect. "
                 f"If the host was rebuilt, forget the old key with "
                 f"`ssh-keygen -R {shlex.quote(target.known_hosts_name)} -f {known}`", "host-key-changed")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("@@@")]
    return lines[-1] if lines else "ssh exited with status 255 and said nothing"


def _after_colon(line: str) -> str:
    return line.rsplit(": ", 1)[-1].strip().rstrip(".")


def connect_error(target: SshTarget, stderr: str) -> HostError:
    """The HostError for a master (or a connection) that ssh could not open, from what ssh printed."""
    text = stderr.strip()
    low = text.lower()
    t = target
    if "remote host identification has changed" in low or re.search(r"host key for .* has changed", low):
        return _changed_key(t, text)
    if "host key verification failed" in low or "host key is known for" in low:
        return _fail(t, f"unknown host key for {t.known_hosts_name} (host_key_policy: strict); "
                        f"add it to {t.known_hosts} (ssh-keyscan) or set host_key_policy: accept-new",
                     "host-key-unknown")
    if "permission denied" in low or "too many authentication failures" in low:
        return _fail(t, f"authentication failed: {_last_line(text)}", "auth")
    if "could not resolve hostname" in low:
        return _fail(t, f"cannot resolve {t.address}: {_after_colon(_last_line(text))}", "dns")
    if "banner exchange" in low or "kex_exchange_identification" in low:
        return _fail(t, f"no SSH banner from {t.address}:{t.port} within {t.connect_timeout:g} s "
                        f"(something listens there that does not speak SSH, or sshd is stuck)", "banner",
                     show_target=False)
    if "connection refused" in low:
        at = f"[{t.address}]:{t.port}" if ":" in t.address else f"{t.address}:{t.port}"
        return _fail(t, f"connection refused at {at}", "refused", show_target=False)
    if "timed out" in low:
        return _fail(t, f"connect timed out after {t.connect_timeout:g} s", "timeout")
    if "network is unreachable" in low or "no route to host" in low or "connection reset" in low:
        return _fail(t, f"network error: {_after_colon(_last_line(text))}", "network")
    return _fail(t, f"ssh error: {_last_line(text)}", "ssh")


#: what ssh (not the remote command) prints when a connection ends under a command
_CUT_OFF = ("closed by remote host", "not responding", "broken pipe", "mux_client", "control socket",
            "connection reset", "client_loop", "master refused", "session open refused", "connection to ")


def cut_off_reason(target: SshTarget, stderr: str, master_alive: bool) -> str | None:
    """Why a command that exited 255 did not run to its end, or None: the remote command itself exited 255.

    Exit status 255 is also ssh's own failure; the master being gone, or ssh's words as stderr's last
    line, tell the two apart.
    """
    last = _last_line(stderr).lower() if stderr.strip() else ""
    if "not responding" in last:
        return (f"no answer to {target.keepalive_count} keepalives in "
                f"{target.keepalive_count * target.keepalive_interval:g} s")
    if not master_alive or any(word in last for word in _CUT_OFF):
        return "the host closed the connection"
    return None
