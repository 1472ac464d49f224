"""``package``: system packages through apt (Debian, Ubuntu), else dnf, else yum.

A resource names one package or several (``package(["tree", "sl"])``).
Package resources are :attr:`~runner.resources.api.Resource.batchable`: the
engine merges all of a host's into one step (:meth:`Package.apply_batch`),
so a host pays for one ``apt-get install`` and one ``apt-get remove``.

apt runs non-interactively and keeps changed config files
(``--force-confdef --force-confold``). ``apt-get update`` runs only when
the package lists are missing or more than an hour old, or when an install
fails because a package or version cannot be found (then the install is
tried once more). ``upgrade`` compares with ``apt-cache policy``'s
candidate, as fresh as the host's lists.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin.shell import UNCHANGED, fail, q

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:~-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$")
INSTALLED_STATES = ("installed", "triggers-pending", "triggers-awaited")
LISTS_MAX_AGE_MINUTES = 60
APT_STAMP = "/var/lib/runner/apt-updated"
#: answers of dpkg-query kept while dpkg's database is unchanged (see :func:`dpkg_cached`)
DPKG_CACHE = "/var/lib/runner/dpkg-cache"
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_UPDATES = "/var/lib/dpkg/updates/[0-9]*"  # a glob: dpkg's journal of changes not yet in status


@dataclass(frozen=True)
class PackageState:
    manager: str = "none"  # apt | dnf | yum | none
    installed: dict[str, str | None] = field(default_factory=dict)  # name -> version, None = not installed
    candidate: dict[str, str | None] = field(default_factory=dict)  # name -> newest available (upgrade only)


@dataclass(frozen=True)
class PackagePlan:
    """What one resource needs: package specs (``name`` or ``name=version``) per operation."""

    install: tuple[str, ...] = ()
    upgrade: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def dpkg_cached(queries: Sequence[str]) -> list[str]:
    """``queries`` (dpkg-query lines) answered from :data:`DPKG_CACHE` while dpkg's database is unchanged.

    dpkg-query reads the whole database, the dearest process of a no-op
    probe. dpkg replaces its status file by a rename whenever it changes it
    (and journals into ``updates/`` in between), so a hard link to the status
    file taken before a query is the same file (``[ -ef ]``, a shell builtin)
    exactly as long as that answer holds. The cache file opens with the name of
    its link and is read through one open descriptor, so a hit starts no
    process; a miss costs an ``ln`` and a ``mv`` more. Where the link cannot be
    made (another file system, no write access), every probe asks dpkg-query.
    """
    key = hashlib.sha256("\n".join(queries).encode()).hexdigest()[:24]
    cache, status, d = q(f"{DPKG_CACHE}/{key}"), q(DPKG_STATUS), q(DPKG_CACHE)
    # runner_pc is set while dpkg's journal holds changes not yet in its status file
    journal_pending = (
        f"runner_pc=''; for runner_u in {DPKG_UPDATES}; do [ -e \"$runner_u\" ] && runner_pc=1; break; done"
    )
    body = ["    " + line.strip() for line in queries]
    return [
        "  " + journal_pending,
        f"  if [ -z \"$runner_pc\" ] && [ -f {cache} ] && {{ IFS= read -r runner_l; "
        f"[ -n \"$runner_l\" ] && [ {status} -ef \"{DPKG_CACHE}/status.$runner_l\" ] && "
        "while IFS= read -r runner_l; do printf '%s\\n' \"$runner_l\"; done; } < " + cache + "; then :",
        "  else",
        f"    runner_r=\"$$-$(date +%s%N 2>/dev/null)\"; runner_lk=\"{DPKG_CACHE}/status.$runner_r\"",
        f"    if [ -z \"$runner_pc\" ] && {{ [ -d {d} ] || mkdir -p -m 0755 {d}; }} 2>/dev/null "
        f"&& ln {status} \"$runner_lk\" 2>/dev/null; then :; else runner_lk=''; fi",
        "    runner_o=$(",
        *body,
        "    )",
        "    printf '%s\\n' \"$runner_o\"",
        "    " + journal_pending,
        f"    if [ -n \"$runner_lk\" ] && [ -z \"$runner_pc\" ] && [ {status} -ef \"$runner_lk\" ] && "
        f"printf '%s\\n%s\\n' \"$runner_r\" \"$runner_o\" > {cache}.\"$runner_r\" 2>/dev/null; then",
        f"      runner_old=''; [ -f {cache} ] && IFS= read -r runner_old < {cache}",
        f"      mv -f {cache}.\"$runner_r\" {cache} 2>/dev/null || rm -f {cache}.\"$runner_r\" \"$runner_lk\"",
        f"      if [ -n \"$runner_old\" ] && [ \"$runner_old\" != \"$runner_r\" ]; then "
        f"rm -f \"{DPKG_CACHE}/status.$runner_old\" 2>/dev/null; fi",
        "    elif [ -n \"$runner_lk\" ]; then rm -f \"$runner_lk\" 2>/dev/null",
        "    fi; :",
        "  fi",
    ]


class Package(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "package"
    actions = ("install", "upgrade", "remove")
    default_action = "install"
    properties: ClassVar[dict[str, Any]] = {"package_name": None, "version": None}
    batchable = True

    def __init__(self, name: str | Sequence[str], **kwargs: Any) -> None:
        self._names_arg = name
        label = ", ".join(name) if isinstance(name, (list, tuple)) and all(isinstance(n, str) for n in name) else name
        super().__init__(label, **kwargs)  # type: ignore[arg-type]

    def validate(self) -> None:
        raw = self.args["package_name"] if self.args["package_name"] is not None else self._names_arg
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, (list, tuple)) or not names:
            raise ResourceError(f"{self.key}: name a package or give a list of package names")
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name):
                raise ResourceError(f"{self.key}: {name!r} is not a valid package name")
        if len(set(names)) != len(names):
            raise ResourceError(f"{self.key}: a package is named twice")
        self.names: tuple[str, ...] = tuple(names)
        version = self.args["version"]
        if version is not None:
            if not isinstance(version, str) or not _VERSION.match(version):
                raise ResourceError(f"{self.key}: {version!r} is not a valid version")
            if len(self.names) != 1:
                raise ResourceError(f"{self.key}: version can only be given for a single package")
            if "remove" in self.action:
                raise ResourceError(f"{self.key}: version makes no sense with action remove")
        self.version: str | None = version
        if len(self.action) != 1:
            raise ResourceError(f"{self.key}: give one action of {', '.join(self.actions)}")

    # -- probe -------------------------------------------------------------------

    def probe(self) -> str:
        upgrade = "upgrade" in self.action
        apt, rpm = [], []
        for name in self.names:
            n = q(name)
            apt.append(f"  printf 'pkg %s %s\\n' {n} \"$(dpkg-query -W -f '${{Status}} ${{Version}}' {n} "
                       "2>/dev/null)\"")
            rpm.append(f"  v=$(rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {n} 2>/dev/null) && "
                       f"printf 'pkg %s install ok installed %s\\n' {n} \"$v\" || :")
            if upgrade:
                apt.append(f"  printf 'candidate %s %s\\n' {n} "
                           f"\"$(apt-cache policy {n} 2>/dev/null | sed -n 's/^ *Candidate: *//p')\"")
                rpm.append(f"  printf 'candidate %s %s\\n' {n} \"$($runner_pm -q list --upgrades {n} "
                           f"2>/dev/null | awk -v n={n} 'index($1, n \".\") == 1 {{print $2; exit}}')\"")
        return "\n".join([
            "if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then",
            "  echo manager=apt",
            *(dpkg_cached(apt) if not upgrade else apt),
            "elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then",
            "  if command -v dnf >/dev/null 2>&1; then runner_pm=dnf; else runner_pm=yum; fi",
            "  echo \"manager=$runner_pm\"",
            *rpm,
            "else echo manager=none",
            "fi",
        ])

    def parse(self, output: str) -> PackageState:
        manager = "none"
        installed: dict[str, str | None] = {n: None for n in self.names}
        candidate: dict[str, str | None] = {}
        for line in output.splitlines():
            if line.startswith("manager="):
                manager = line.partition("=")[2].strip() or "none"
                continue
            kind, _, rest = line.partition(" ")
            name, _, value = rest.partition(" ")
            if name not in installed:
                continue
            if kind == "pkg":
                words = value.split()
                if len(words) >= 4 and words[2] in INSTALLED_STATES:
                    installed[name] = words[3]
            elif kind == "candidate":
                value = value.strip()
                candidate[name] = value if value and value != "(none)" else None
        return PackageState(manager, installed, candidate)

    # -- diff --------------------------------------------------------------------

    def operation(self, name: str, state: PackageState) -> str | None:
        """``install``, ``upgrade``, ``remove`` or None: what package ``name`` of this resource needs."""
        have = state.installed.get(name)
        if "remove" in self.action:
            return "remove" if have is not None else None
        if have is None or (self.version is not None and have != self.version):
            return "install"
        if "upgrade" in self.action and self.version is None:
            newest = state.candidate.get(name)
            if newest is not None and newest != have:
                return "upgrade"
        return None

    def plan(self, state: PackageState) -> PackagePlan:
        """Which of this resource's packages need installing, upgrading or removing."""
        ops = {name: self.operation(name, state) for name in self.names}
        return PackagePlan(
            install=tuple(self._spec(n, state.manager) for n, op in ops.items() if op == "install"),
            upgrade=tuple(n for n, op in ops.items() if op == "upgrade"),
            remove=tuple(n for n, op in ops.items() if op == "remove"),
        )

    def _spec(self, name: str, manager: str) -> str:
        if self.version is None:
            return name
        return f"{name}-{self.version}" if manager in ("dnf", "yum") else f"{name}={self.version}"

    def diff(self, state: PackageState) -> list[Change]:
        changes = []
        for name in self.names:
            op, have = self.operation(name, state), state.installed.get(name)
            if op == "install":
                version = f" {self.version}" if self.version else ""
                changes.append(Change(f"install {name}{version}" + (f" (have {have})" if have else "")))
            elif op == "upgrade":
                changes.append(Change(f"upgrade {name} {have} -> {state.candidate.get(name)}"))
            elif op == "remove":
                changes.append(Change(f"remove {name} {have}"))
        return changes

    # -- apply ---------------------------------------------------------------------

    def apply(self, state: PackageState, changes: list[Change]) -> Step:
        return self.apply_batch([(self, state, changes)])

    @classmethod
    def apply_batch(cls, items: Sequence[tuple[Resource, Any, list[Change]]]) -> Step:
        install: list[str] = []
        upgrade: list[str] = []
        remove: list[str] = []
        for resource, state, _changes in items:
            assert isinstance(resource, Package)
            plan = resource.plan(state)
            install += [s for s in plan.install if s not in install]
            upgrade += [s for s in plan.upgrade if s not in upgrade]
            remove += [s for s in plan.remove if s not in remove]
        if not (install or upgrade or remove):
            return Step(UNCHANGED)
        return Step(batch_script(install, upgrade, remove))


def _words(items: Sequence[str]) -> str:
    return " ".join(q(i) for i in items)


def apt_script(install: Sequence[str], remove: Sequence[str]) -> list[str]:
    """apt: one install (installs and upgrades), one remove; update the lists only when needed."""
    opts = ("-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
            "-o APT::Get::allow-downgrades=true")
    lines = [
        "export DEBIAN_FRONTEND=noninteractive",
        "runner_update() { apt-get update -q || exit 1; mkdir -p /var/lib/runner && touch " + APT_STAMP + "; }",
        "runner_fresh=",
        "if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then",
        f"  runner_fresh=$(find /var/lib/apt/lists {APT_STAMP} -maxdepth 0 -mmin -{LISTS_MAX_AGE_MINUTES} "
        "2>/dev/null | head -n 1)",
        "fi",
    ]
    if install:
        lines += [
            '[ -n "$runner_fresh" ] || runner_update',
            "runner_out=$(mktemp) || exit 1",
            f"if ! apt-get install {opts} {_words(install)} >\"$runner_out\" 2>&1; then",
            "  cat \"$runner_out\"",
            "  if grep -Eq 'Unable to locate package|has no installation candidate|was not found|"
            "Failed to fetch|404 +Not Found' \"$runner_out\"; then",
            "    rm -f \"$runner_out\"; runner_update",
            f"    apt-get install {opts} {_words(install)} || exit 1",
            "  else rm -f \"$runner_out\"; exit 1",
            "  fi",
            "else cat \"$runner_out\"; rm -f \"$runner_out\"",
            "fi",
        ]
    if remove:
        lines.append(f"apt-get remove {opts} {_words(remove)} || exit 1")
    return lines


def batch_script(install: Sequence[str], upgrade: Sequence[str], remove: Sequence[str]) -> str:
    """The shell that installs, upgrades and removes these packages with the host's package manager."""
    rpm = []
    if install:
        rpm.append(f"$runner_pm -y install {_words(install)} || exit 1")
    if upgrade:
        rpm.append(f"$runner_pm -y upgrade {_words(upgrade)} || exit 1")
    if remove:
        rpm.append(f"$runner_pm -y remove {_words(remove)} || exit 1")
    return "\n".join([
        "if command -v apt-get >/dev/null 2>&1; then",
        *("  " + line for line in apt_script([*install, *upgrade], remove)),
        "elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then",
        "  if command -v dnf >/dev/null 2>&1; then runner_pm=dnf; else runner_pm=yum; fi",
        *("  " + line for line in rpm),
        f"else {fail('package: no supported package manager (apt-get, dnf or yum) on this host')}",
        "fi",
    ])
