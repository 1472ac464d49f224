"""The shell scripts a deployment runs on a host, one per step (POSIX sh, every value shlex-quoted).

Each script prints ``@@step NAME`` before each part, so when it fails the
runner can say which part and show that part's output. Scripts travel on
stdin (see :mod:`runner.engine.wire`); payloads follow the script on stdin.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from runner.deploy.releases import INSPECT_CURRENT, INSPECT_RELEASE
from runner.engine.hostlock import IS_A_SYMLINK
from runner.engine.wrap import STOP_ON_FAILURE, part

STEP = "@@step"
SOURCE = "@@source"
HOOKS_BEFORE_SWITCH = ("before_migrate", "before_symlink")
SHARED_DIRS = ("config", "log", "pids", "system")
UNDEPLOYED_DIR = "/var/lib/runner/undeployed"
LOCK_DIR = "/var/lib/runner/locks"
LOCKED, NO_LOCK = "@@locked", "@@nolock"
#: what lock_shell prints when another run holds the app's lock
APP_BUSY = "@@app-busy"
#: how a script refuses a path that someone else made a symlink (lock_shell prints it as its first line)
q = shlex.quote
#: sh function: exit 1, naming the first of its arguments that is a symlink (nothing runner did not make
#: itself may be one: a link planted under /srv/<app> or /var/lib/runner would have root write through it)
NO_LINKS = ('runner_nolink() { for p; do if [ -L "$p" ]; then '
            f"printf 'runner: %s {IS_A_SYMLINK}\\n' \"$p\" >&2; exit 1; fi; done; }}")
#: a leftover temp file of an earlier, killed run ("$tmp") removed; no rm process when there is none
CLEAR_TMP = 'if [ -e "$tmp" ] || [ -L "$tmp" ]; then rm -f "$tmp"; fi'


def app_root(app: str) -> str:
    return f"/srv/{app}"


def undeployed_log(app: str) -> str:
    """Where undeploy keeps an app's deployments.log, so `runner history` still has it."""
    return f"{UNDEPLOYED_DIR}/{app}.log"


def _head(app: str, release: str | None = None) -> list[str]:
    lines = ["set -e", f"A={q(app_root(app))}"]
    if release is not None:
        lines.append(f'R="$A/releases/"{q(release)}')
    return lines


def _guarded_head(app: str, release: str | None = None) -> list[str]:
    """:func:`_head` for a script that writes: refuses when the app root or its releases/ is a symlink."""
    return _head(app, release) + [NO_LINKS, 'runner_nolink "$A" "$A/releases"']


def _step(name: str) -> str:
    return f"printf '%s %s\\n' {STEP} {q(name)}"


def _write_file(path_expr: str, content: str, mode: str) -> list[str]:
    """Write ``content`` (quoted into the script) to ``path_expr`` atomically: temp file, then rename.

    A symlink at the path is refused; the temp file is created with noclobber
    (O_EXCL: a link planted at its name fails the write) and renamed with
    ``mv -T``, which replaces the path itself rather than moving into a
    directory it points at. Needs :data:`NO_LINKS` defined.
    """
    bits = int(mode, 8)
    if bits & ~0o666:  # a mode a new file cannot get from the umask alone (x bits, setuid...)
        create, chmod = f'(set -C; printf %s {q(content)} > "$tmp")', [f'chmod {mode} "$tmp"']
    else:  # created with exactly ``mode`` (noclobber: always a new file): no chmod process
        create, chmod = f'(umask {0o777 & ~bits:03o}; set -C; printf %s {q(content)} > "$tmp")', []
    return [
        f'runner_nolink "{path_expr}"',
        f'tmp="{path_expr}.tmp.$$"',
        CLEAR_TMP,
        create,
        *chmod,
        f'mv -Tf "$tmp" "{path_expr}"',
    ]


def _append_file(path_expr: str, line: str, before: str = "") -> list[str]:
    """Append ``line`` to ``path_expr`` without following a link: the old content (then ``before``, a
    file copied too when it exists) and the line go to a new temp file that is renamed over the path."""
    copy = f'if [ -f "{before}" ]; then cat "{before}"; fi; ' if before else ""
    return [
        f'runner_nolink "{path_expr}"' + (f' "{before}"' if before else ""),
        f'tmp="{path_expr}.tmp.$$"',
        CLEAR_TMP,
        f'(set -C; {{ if [ -f "{path_expr}" ]; then cat "{path_expr}"; fi; {copy}printf %s {q(line)}; }} > "$tmp")',
        f'mv -Tf "$tmp" "{path_expr}"',
    ]


def _release_json(meta: dict[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")) + "\n"


def _write_metas(metas: dict[str, dict[str, Any]]) -> list[str]:
    """Rewrite the .release.json of each release in ``metas`` that exists (ids are ours: digits only)."""
    lines = []
    for rid, meta in metas.items():
        lines += [f'runner_nolink "$A/releases/"{q(rid)}', f'if [ -d "$A/releases/"{q(rid)} ]; then'] + [
            "  " + line for line in _write_file(f"$A/releases/{rid}/.release.json", _release_json(meta), "0644")
        ] + ["fi"]
    return lines


def _hook(name: str) -> list[str]:
    """Run the release's deploy/<name> from the release directory, with the app's environment, if it exists."""
    return [
        f'if [ -f "$R/deploy/{name}" ]; then',
        f"  {_step('hook:' + name)}",
        f'  [ -x "$R/deploy/{name}" ] || {{ echo "deploy/{name} is not executable (chmod +x it)"; exit 1; }}',
        f'  (cd "$R" && set -a && . "$A/shared/config/environment" && set +a && '
        f'RELEASE_PATH="$R" ./deploy/{name}) 2>&1',
        "fi",
    ]


def lock_path(app: str) -> str:
    return f"{LOCK_DIR}/{app}.lock"


def lock_shell(app: str, host_lock: str = "") -> str:
    """Shell that takes the app's lock on fd 8 (after ``host_lock``: shell that takes the host's run lock,
    shared and quiet: runner.engine.hostlock.take_shell) and goes on:
    the head of a command that then runs a script and holds both locks while its stdin stays open
    (runner.engine.wire.run_script_locked). Prints LOCKED (NO_LOCK on a host without flock), or APP_BUSY
    and exits when another run holds the app."""
    links = " ".join(q(p) for p in (LOCK_DIR.rsplit("/", 1)[0], LOCK_DIR, lock_path(app)))
    return (f"for p in {links}; do if [ -L \"$p\" ]; then echo \"runner: $p {IS_A_SYMLINK}\"; exit 1; fi; done; "
            f"{host_lock}mkdir -p {q(LOCK_DIR)} || exit 125; if command -v flock >/dev/null 2>&1; then "
            f"exec 8>>{q(lock_path(app))}; if ! flock -n 8; then echo {APP_BUSY}; exit 1; fi; echo {LOCKED}; "
            f"else echo {NO_LOCK}; fi; ")


def inspect_script(app: str) -> str:
    """Print where current points and each release's id and .release.json (one line each)."""
    return "\n".join(_head(app) + [
        'cur=$(readlink "$A/current" 2>/dev/null || true)',
        f"printf '%s %s\\n' {INSPECT_CURRENT} \"$cur\"",
        'if [ -d "$A/releases" ]; then',
        '  for d in "$A"/releases/*/; do',
        '    [ -d "$d" ] || continue',
        '    id=${d%/}; id=${id##*/}',  # builtins, not basename and tr: two processes less per release
        f"    printf '%s %s ' {INSPECT_RELEASE} \"$id\"",
        '    if [ -f "$d.release.json" ]; then',
        '      while IFS= read -r l || [ -n "$l" ]; do printf %s "$l"; done < "$d.release.json"',
        '    fi',
        "    printf '\\n'",
        "  done",
        "fi",
    ]) + "\n"


def stage_script(app: str, release: str, meta: dict[str, Any], env_size: int, payload_size: int | None,
                 remote_fetch: str | None) -> str:
    """Create the release directory, unpack the source into it, link the shared directories,
    write the environment file and run the hooks that come before the switch.

    stdin after the script: ``env_size`` bytes of environment file, then the
    source's tar.gz (``payload_size`` bytes) unless ``remote_fetch`` fetches it on the host.
    """
    lines = _guarded_head(app, release) + [
        _step("prepare"),
        'runner_nolink "$A/shared" ' + " ".join(f'"$A/shared/{d}"' for d in SHARED_DIRS) + ' "$A/deployments.log"',
        'mkdir -p "$A/releases" ' + " ".join(f'"$A/shared/{d}"' for d in SHARED_DIRS),
        'mkdir "$R"',  # fails when the id exists: a release is never written twice
        *_write_file("$R/.release.json", _release_json(meta), "0644"),
        _step("environment"),
        'runner_nolink "$A/shared/config/environment"',
        'tmp="$A/shared/config/environment.tmp.$$"',
        CLEAR_TMP,
        f'(umask 077; set -C; head -c {env_size} > "$tmp")',
        'mv -Tf "$tmp" "$A/shared/config/environment"',
        _step("source"),
    ]
    if remote_fetch is None:
        if payload_size is None:
            raise ValueError("a source needs a payload or a remote fetch script")
        lines.append(f'head -c {payload_size} | tar -xzf - -C "$R" --no-same-owner')
    else:
        lines += ["exec </dev/null", f'RELEASE="$R"; ( {remote_fetch}\n) 2>&1',
                  'sum=$(cat "$R/.runner_checksum" 2>/dev/null || true)',
                  'rev=$(cat "$R/.runner_revision" 2>/dev/null || true)',
                  'rm -f "$R/.runner_checksum" "$R/.runner_revision"',
                  f"printf '%s %s %s\\n' {SOURCE} \"${{sum:--}}\" \"${{rev:--}}\""]
    lines += [
        _step("shared"),
        *_release_links_inside(),
        'for p in "$R/log" "$R/tmp/pids" "$R/public/system"; do',  # what the source shipped there gives way
        '  if [ -e "$p" ] || [ -L "$p" ]; then rm -rf "$p"; fi',
        "done",
        'mkdir -p "$R/tmp" "$R/public" "$R/config"',
        'ln -s "$A/shared/log" "$R/log"',
        'ln -s "$A/shared/pids" "$R/tmp/pids"',
        'ln -s "$A/shared/system" "$R/public/system"',
        'for f in "$A"/shared/config/*; do',
        '  [ -e "$f" ] || continue',
        '  n=${f##*/}',
        '  [ -e "$R/config/$n" ] || [ -L "$R/config/$n" ] || ln -s "$f" "$R/config/$n"',
        "done",
    ]
    for hook in HOOKS_BEFORE_SWITCH:
        lines += _hook(hook)
    lines.append(_step("staged"))
    return "\n".join(lines) + "\n"


def _release_links_inside() -> list[str]:
    """Refuse a release holding a symlink that resolves outside it (a remote fetch is not checked on the
    laptop; see runner.sources.links); before the links to shared/ are made."""
    check = ('r=$(realpath -- "$0"); for l; do t=$(realpath -m -- "$l" 2>/dev/null || true); case "$t" in '
             '"$r"|"$r"/*) ;; *) printf "runner: release symlink %s -> %s points outside the release\\n" '
             '"${l#"$0"/}" "$(readlink -- "$l")" >&2; exit 1 ;; esac; done')
    return [f'find "$R" -type l -exec sh -c {q(check)} "$R" {{}} +']


def switch_script(app: str, release: str | None, metas: dict[str, dict[str, Any]],
                  hook: str | None = None) -> str:
    """Point ``current`` at ``release`` atomically (None: remove it), rewrite the given
    releases' .release.json, then run ``hook`` of the new release if given."""
    lines = _guarded_head(app, release) + _write_metas(metas)
    lines.append(_step("switch"))
    if release is None:
        lines.append('rm -f "$A/current"')
    else:
        lines += [
            '[ -d "$R" ] || { echo "release directory $R is missing"; exit 1; }',
            'ln -sfn "releases/"' + q(release) + ' "$A/.current.tmp.$$"',
            'mv -Tf "$A/.current.tmp.$$" "$A/current"',
        ]
        if hook:
            lines += _hook(hook)
    return "\n".join(lines) + "\n"


def hook_script(app: str, release: str, hook: str, metas: dict[str, dict[str, Any]] | None = None) -> str:
    """Run one hook of ``release``, after rewriting the given releases' .release.json."""
    return "\n".join(_guarded_head(app, release) + _write_metas(metas or {}) + _hook(hook)) + "\n"


def remove_releases_script(app: str, remove: Sequence[str]) -> str:
    """Delete releases (a joining host's leftover of an earlier attempt, before it is staged again)."""
    removes = [f'rm -rf "$A/releases/"{q(rid)}' for rid in remove]
    return "\n".join(_guarded_head(app) + [_step("remove")] + removes) + "\n"


def release_tar_script(app: str, release: str) -> str:
    """Print a tar.gz of a release's contents, for another host's stage step: without its .release.json
    and the links into shared/ that stage makes anew. Run through the wire wrapper ($1: its temp dir)."""
    return "\n".join(_head(app, release) + [
        '[ -d "$R" ] || { echo "release directory $R is missing" >&2; exit 1; }',
        'cd "$R"',
        "{ printf '%s\\n' ./.release.json ./log ./tmp/pids ./public/system",
        '  find ./config -maxdepth 1 -type l -lname "$A/shared/config/*" 2>/dev/null || true; } > "$1/exclude"',
        'tar -czf - -X "$1/exclude" .',
    ]) + "\n"


def finish_script(app: str, remove: Sequence[str], log_entry: dict[str, Any]) -> str:
    """Delete old releases and append one line to deployments.log."""
    lines = _guarded_head(app) + [_step("keep_releases")]
    for rid in remove:
        lines.append(f'rm -rf "$A/releases/"{q(rid)}')
    lines += [_step("log"), *_append_file("$A/deployments.log", json.dumps(log_entry, sort_keys=True) + "\n")]
    return "\n".join(lines) + "\n"


HEALTH_TIME = "@@health-time"


def after_script(parts: Sequence[tuple[str, str]]) -> str:
    """The steps after a host's recipes as one script (runner.engine.wrap.Wrap.after): each (name, script)
    runs in its own subshell (runner.engine.wrap.part), in order, stopping at the first that fails. A part
    named ``health_check`` is announced as that step and timed (:data:`HEALTH_TIME`: start and end, epoch s)."""
    lines: list[str] = []
    for name, script in parts:
        run = part(script)
        if name == "health_check":
            lines += [_step("health_check"), "t0=$(date +%s.%N 2>/dev/null || date +%s)", *run,
                      "st=$?; t1=$(date +%s.%N 2>/dev/null || date +%s)",
                      f"printf '%s %s %s\\n' {HEALTH_TIME} \"$t0\" \"$t1\"", '[ "$st" -eq 0 ] || exit "$st"']
        else:
            lines += [*run, STOP_ON_FAILURE]
    return "\n".join(lines) + "\n"


def health_seconds(output: str) -> float:
    """How long the health check of :func:`after_script` took, from its :data:`HEALTH_TIME` line (0: none)."""
    for line in reversed(output.splitlines()):
        if line.startswith(HEALTH_TIME + " "):
            try:
                start, end = (float(v) for v in line.split()[1:3])
            except ValueError:
                return 0.0
            return max(0.0, end - start)
    return 0.0


def fetched(output: str) -> tuple[str | None, str | None]:
    """(checksum, revision) that the stage script's remote fetch printed (:data:`SOURCE`); None: not said."""
    for line in output.splitlines():
        if line.startswith(SOURCE + " "):
            _, checksum, revision = (line.split(" ") + ["-", "-"])[:3]
            return (None if checksum == "-" else checksum), (None if revision == "-" else revision)
    return None, None


def health_script(command: str, attempts: int, interval: float, timeout: float) -> str:
    """Run the health check up to ``attempts`` times, ``interval`` seconds apart, each for at most ``timeout`` s."""
    secs = max(1, int(round(timeout)))
    return "\n".join([
        f"n=0; while [ $n -lt {attempts} ]; do",
        "  n=$((n + 1))",
        f"  if out=$(timeout {secs} sh -c {q(command)} 2>&1); then echo \"healthy after $n tries\"; exit 0; fi",
        "  last=$out",
        f"  [ $n -lt {attempts} ] && sleep {interval:g}",
        "done",
        f'echo "unhealthy after $n tries ({attempts} allowed, {interval:g} s apart); last output:"',
        'printf "%s\\n" "$last"',
        "exit 1",
    ]) + "\n"


def undeploy_script(app: str, log_entry: dict[str, Any]) -> str:
    """Keep the app's deployments.log (plus this undeploy) under /var/lib/runner, then remove /srv/<app>."""
    keep = undeployed_log(app)
    line = json.dumps(log_entry, sort_keys=True) + "\n"
    runner_dir = UNDEPLOYED_DIR.rsplit("/", 1)[0]
    return "\n".join(_head(app) + [
        NO_LINKS,
        _step("log"),
        f'runner_nolink "$A" {q(runner_dir)} {q(UNDEPLOYED_DIR)}',
        f"mkdir -p {q(UNDEPLOYED_DIR)}",
        *_append_file(keep, line, before="$A/deployments.log"),
        _step("remove"),
        'rm -rf "$A"',
    ]) + "\n"


def history_script(app: str) -> str:
    """Print every deployments.log line of the app on this host, undeployed ones first."""
    return "\n".join([
        f"cat {q(undeployed_log(app))} 2>/dev/null || true",
        f"cat {q(app_root(app) + '/deployments.log')} 2>/dev/null || true",
    ]) + "\n"
