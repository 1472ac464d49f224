"""Everything needed to open an SSH connection to one host, resolved from the stack.

Precedence for user, port and key, as OpenSSH gives the command line
precedence over its config: what the instance (or its provider) says, then
the stack's ``ssh:`` settings, then ~/.ssh/config (HostName, User, Port,
IdentityFile), then the defaults (port 22, user root, ~/.ssh/id_*).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import UserError
from runner.model.stack import Stack
from runner.providers.api import HostAddress

if TYPE_CHECKING:  # pragma: no cover
    import paramiko


@dataclass(frozen=True)
class SshTarget:
    name: str  # the instance's name, used in every message
    address: str
    port: int = 22
    user: str = "root"
    key_files: tuple[Path, ...] = ()
    use_agent: bool = True
    host_key_policy: str = "strict"
    known_hosts: Path | None = None  # read, and written by accept-new
    system_known_hosts: tuple[Path, ...] = ()  # read only
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    keepalive_interval: float = 10.0  # seconds between keepalives
    keepalive_count: int = 3  # unanswered keepalives in a row after which the host is lost
    sudo: bool = False
    sudo_password: str | None = field(default=None, repr=False)
    transport: str = "paramiko"  # the stack's ssh.transport: which runner.ssh.api.Transport connects
    persist: float = 60.0  # seconds a warm connection stays open after its last use
    kex: str = "classic"  # the stack's ssh.kex (runner.model.stack.KEX_CHOICES)
    config_file: Path | None = None  # the stack's ssh.config_file (None: ~/.ssh/config applies)
    config_host: str = ""  # the name ~/.ssh/config was asked about (openssh connects to it, so Host blocks apply)

    @property
    def known_hosts_name(self) -> str:
        """How the host is named in known_hosts files (as OpenSSH names it)."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


_MATCH_EXEC = re.compile(r"^\s*match\b.*\bexec\b", re.IGNORECASE | re.MULTILINE)


def enable_match_exec() -> None:
    """Give paramiko the invoke module it runs ``Match exec`` with (skipped: see runner.ssh.paramiko_import)."""
    import invoke

    from runner.ssh.paramiko_import import paramiko

    paramiko.config.invoke = invoke


_config_cache: dict[Path, tuple[tuple[int, int], "paramiko.SSHConfig"]] = {}
_config_lock = threading.Lock()


def _ssh_config(path: Path | None) -> paramiko.SSHConfig | None:
    """The parsed ssh config: read once per process and version of the file (not once per host)."""
    path = path or Path("~/.ssh/config").expanduser()
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    version = (st.st_mtime_ns, st.st_size)
    with _config_lock:
        hit = _config_cache.get(path)
        if hit is not None and hit[0] == version:
            return hit[1]
    try:
        if _MATCH_EXEC.search(path.read_text(errors="replace")):
            enable_match_exec()
        from runner.ssh.paramiko_import import paramiko  # only when there is a config to read

        parsed = paramiko.SSHConfig.from_path(str(path))
    except Exception as exc:  # paramiko raises several kinds for a broken file
        raise UserError(f"{path}: cannot read ssh config: {exc}") from None
    with _config_lock:
        _config_cache[path] = (version, parsed)
    return parsed


def resolve_target(stack: Stack, host: HostAddress, environ: dict[str, str] | None = None) -> SshTarget:
    """The SSH target for ``host`` under the stack's ssh settings and ~/.ssh/config."""
    environ = os.environ if environ is None else environ
    ssh = stack.ssh
    conf = _ssh_config(ssh.config_file)
    looked_up = conf.lookup(host.address) if conf else {}

    address = looked_up.get("hostname", host.address)
    port = int(host.port or ssh.port or looked_up.get("port") or 22)
    user = host.user or ssh.user or looked_up.get("user") or "root"

    keys: list[Path] = []
    for given, where in ((host.key, ("instances", host.instance, "key")), (ssh.key, ("stack", "ssh", "key"))):
        if given:
            key = Path(given).expanduser()
            if not key.is_file():
                raise UserError(f"ssh key {key} does not exist", stack.where(*where),
                                hint="fix the path, or create the key with ssh-keygen")
            keys.append(key)
    # like OpenSSH, identities from ~/.ssh/config that do not exist are skipped
    keys += [Path(p).expanduser() for p in looked_up.get("identityfile", []) if Path(p).expanduser().is_file()]
    keys = list(dict.fromkeys(keys))

    sudo = ssh.sudo if ssh.sudo is not None else user != "root"
    password = None
    if ssh.sudo_password_env:
        password = environ.get(ssh.sudo_password_env)
        if password is None:
            raise UserError(f"ssh.sudo_password_env names {ssh.sudo_password_env}, which is not set",
                            stack.where("stack", "ssh", "sudo_password_env"),
                            hint=f"export {ssh.sudo_password_env}=... before running")

    system_known = Path("~/.ssh/known_hosts").expanduser()
    return SshTarget(
        name=host.instance,
        address=address,
        port=port,
        user=user,
        key_files=tuple(keys),
        use_agent=ssh.use_agent,
        host_key_policy=ssh.host_key_policy,
        known_hosts=stack.known_hosts_path,
        system_known_hosts=(system_known,) if system_known.is_file() else (),
        connect_timeout=ssh.connect_timeout,
        command_timeout=ssh.command_timeout,
        keepalive_interval=ssh.keepalive_interval,
        keepalive_count=ssh.keepalive_count,
        sudo=sudo,
        sudo_password=password,
        transport=ssh.transport,
        persist=ssh.persist,
        kex=ssh.kex,
        config_file=ssh.config_file,
        config_host=host.address,
    )
