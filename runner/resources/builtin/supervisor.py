"""A plain process supervisor in POSIX sh, for hosts without an init system (containers).

Docker hosts run sshd as PID 1, so there is neither systemd nor sysvinit to
start a service. The ``service`` resource then reads the service's systemd
unit file itself (``/etc/systemd/system/NAME.service``, ``/run/...``,
``/lib/...``, ``/usr/lib/...``) and runs its ``ExecStart=`` under a small
restart loop:

* the loop (``sh -c LOOP runner-supervise NAME UNIT``) is started detached
  with ``setsid`` (its own session and process group), a clean environment,
  stdin from /dev/null and stdout/stderr appended to
  ``/var/log/runner/NAME.log``;
* it applies ``Environment=`` then ``EnvironmentFile=`` (``-`` prefix:
  optional), ``WorkingDirectory=``, ``User=`` / ``Group=`` (via ``setpriv``,
  else ``runuser``), then runs ``ExecStart`` as ``sh -c "exec ..."`` and
  restarts it when it exits (1 s, doubling up to 30 s while it keeps
  dying within 10 s);
* ``/run/runner/NAME.pid`` holds the loop's pid (= its process group),
  ``/run/runner/NAME.child`` the service's; "running" means the loop's pid
  is alive and really is a ``runner-supervise`` process;
* stop sends SIGTERM to the process group (and the service's pid), waits up
  to 10 s, then sends SIGKILL; reload runs ``ExecReload=`` with ``$MAINPID``
  set, else sends SIGHUP to the service;
* enable/disable only set a marker, ``/etc/runner/enabled/NAME``: nothing
  starts enabled services when the container restarts (there is no init to
  do it); a converge after the restart starts them again.

Limits: unit specifiers (``%i`` ...), ``Type=forking``, ``ExecStartPre=``,
socket activation and resource controls are not supported; ``Environment=``
values and the command line are read with sh's quoting rules (close to
systemd's for ordinary units). The unit file is trusted like any root-owned
config: its lines are evaluated by sh.
"""

from __future__ import annotations

from runner.resources.builtin.shell import q

RUN_DIR = "/run/runner"
LOG_DIR = "/var/log/runner"
ENABLED_DIR = "/etc/runner/enabled"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
MARKER = "runner-supervise"  # argv[0] of the loop, how a live loop is told from a recycled pid
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: prints the value(s) of key -v key in the [Service] section: the last one, or every one with -v all=1
#: (an empty assignment resets the list, as in systemd); joins continuation lines
UNIT_AWK = r"""
{ sub(/\r$/, "") }
pending != "" { $0 = pending $0; pending = "" }
/\\$/ { pending = substr($0, 1, length($0) - 1) " "; next }
/^[ \t]*([#;]|$)/ { next }
/^[ \t]*\[/ { section = $0; gsub(/^[ \t]+|[ \t]+$/, "", section); next }
section != "[Service]" { next }
{
  eq = index($0, "="); if (!eq) next
  k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
  gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
  if (k != key) next
  if (v == "") n = 0; else vals[++n] = v
}
END { if (all) { for (i = 1; i <= n; i++) print vals[i] } else if (n) print vals[n] }
"""

UNIT_VALUE_FN = f'runner_unit_value() {{ awk -v key="$1" -v all="${{2:-}}" {q(UNIT_AWK)} "$runner_u"; }}'

#: the restart loop; $1 = service name, $2 = unit file; runs detached, its output goes to the log
LOOP = UNIT_VALUE_FN + r"""
runner_n=$1 runner_u=$2
say() { printf '%s runner-supervise[%s]: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "$runner_n" "$*"; }
cmd=$(runner_unit_value ExecStart)
while :; do case $cmd in [-@:+!]*) cmd=${cmd#?} ;; *) break ;; esac; done
[ -n "$cmd" ] || { say "$runner_u has no ExecStart= in [Service]"; exit 1; }
nl='
'
set -f; IFS=$nl
for e in $(runner_unit_value Environment 1); do
  eval "export $e" || { say "cannot use Environment=$e"; exit 1; }
done
for f in $(runner_unit_value EnvironmentFile 1); do
  case $f in -*) f=${f#-}; [ -r "$f" ] || continue ;; esac
  [ -r "$f" ] || { say "EnvironmentFile $f is missing"; exit 1; }
  set -a; . "$f"; set +a
done
unset IFS; set +f
user=$(runner_unit_value User) group=$(runner_unit_value Group) dir=$(runner_unit_value WorkingDirectory)
case $dir in -*) dir=${dir#-}; [ -d "$dir" ] || dir= ;; esac
set --
if [ -n "$user" ]; then
  home=$(getent passwd "$user" | cut -d: -f6)
  export HOME="${home:-/}" USER="$user" LOGNAME="$user"
  [ -n "$group" ] || group=$(id -g "$user") || { say "no such user: $user"; exit 1; }
  if command -v setpriv >/dev/null 2>&1; then
    set -- setpriv --reuid="$user" --regid="$group" --init-groups --
  else
    set -- runuser -u "$user" -g "$group" --
  fi
fi
[ "$dir" != "~" ] || dir=${HOME:-/}
cd "${dir:-/}" || { say "cannot change to WorkingDirectory $dir"; exit 1; }
printf '%s\n' "$$" >"/run/runner/$runner_n.pid.tmp" && mv -f "/run/runner/$runner_n.pid.tmp" "/run/runner/$runner_n.pid"
delay=1
while :; do
  started=$(date +%s)
  "$@" sh -c "exec $cmd" </dev/null &
  child=$!
  printf '%s\n' "$child" >"/run/runner/$runner_n.child"
  say "started $cmd (pid $child)"
  rc=0; wait "$child" || rc=$?
  ran=$(( $(date +%s) - started ))
  [ "$ran" -lt 10 ] || delay=1
  say "pid $child exited with status $rc after ${ran}s; restarting in ${delay}s"
  sleep "$delay"
  delay=$((delay * 2)); [ "$delay" -le 30 ] || delay=30
done
"""

#: functions the service steps and probe use; expects $runner_n (the service name)
LIB = UNIT_VALUE_FN + "\n" + r"""
runner_pidf="/run/runner/$runner_n.pid" runner_childf="/run/runner/$runner_n.child"
runner_log="/var/log/runner/$runner_n.log"
runner_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in Z*) return 1 ;; esac
}
runner_sv_pid() {
  [ -f "$runner_pidf" ] || return 1
  runner_p=$(cat "$runner_pidf" 2>/dev/null) || return 1
  case $runner_p in '' | *[!0-9]*) return 1 ;; esac
  runner_alive "$runner_p" || return 1
  if [ -r "/proc/$runner_p/cmdline" ]; then
    tr '\000' '\n' <"/proc/$runner_p/cmdline" | grep -qxF runner-supervise || return 1
  fi
  printf '%s\n' "$runner_p"
}
runner_unit_file() {
  for runner_d in """ + " ".join(UNIT_DIRS) + r"""; do
    if [ -f "$runner_d/$runner_n.service" ]; then printf '%s\n' "$runner_d/$runner_n.service"; return 0; fi
  done
  return 1
}
runner_sv_start() {
  runner_sv_pid >/dev/null && return 0
  runner_u=$(runner_unit_file) || {
    printf 'service %s: no init system here, and no unit file %s/%s.service to run it from\n' \
      "$runner_n" /etc/systemd/system "$runner_n" >&2
    return 1
  }
  mkdir -p /run/runner /var/log/runner || return 1
  rm -f "$runner_pidf"
  if command -v setsid >/dev/null 2>&1; then runner_setsid=setsid; else runner_setsid=; fi
  env -i PATH=""" + q(CLEAN_PATH) + r""" LANG=C.UTF-8 $runner_setsid sh -c "$runner_loop" runner-supervise \
    "$runner_n" "$runner_u" </dev/null >>"$runner_log" 2>&1 &
  runner_i=0
  while [ "$runner_i" -lt 100 ]; do
    runner_sv_pid >/dev/null && return 0
    sleep 0.1 2>/dev/null || sleep 1
    runner_i=$((runner_i + 1))
  done
  printf 'service %s did not start; the end of %s:\n' "$runner_n" "$runner_log" >&2
  tail -n 20 "$runner_log" >&2
  return 1
}
runner_sv_stop() {
  runner_p=$(runner_sv_pid) || { rm -f "$runner_pidf" "$runner_childf"; return 0; }
  runner_c=$(cat "$runner_childf" 2>/dev/null) || runner_c=
  kill -TERM -"$runner_p" 2>/dev/null || kill -TERM "$runner_p" 2>/dev/null || :
  case $runner_c in '' | *[!0-9]*) runner_c= ;; *) kill -TERM "$runner_c" 2>/dev/null || : ;; esac
  runner_i=0
  while [ "$runner_i" -lt 100 ]; do
    if kill -0 -"$runner_p" 2>/dev/null; then :
    elif [ -n "$runner_c" ] && runner_alive "$runner_c"; then :
    else break
    fi
    sleep 0.1 2>/dev/null || sleep 1
    runner_i=$((runner_i + 1))
  done
  kill -KILL -"$runner_p" 2>/dev/null || :
  [ -z "$runner_c" ] || kill -KILL "$runner_c" 2>/dev/null || :
  rm -f "$runner_pidf" "$runner_childf"
  return 0
}
runner_sv_reload() {
  runner_sv_pid >/dev/null || { runner_sv_start; return; }
  runner_c=$(cat "$runner_childf" 2>/dev/null) || runner_c=
  runner_u=$(runner_unit_file) || return 1
  runner_r=$(runner_unit_value ExecReload)
  while :; do case $runner_r in [-@:+!]*) runner_r=${runner_r#?} ;; *) break ;; esac; done
  if [ -n "$runner_r" ]; then MAINPID=$runner_c sh -c "exec $runner_r"
  else kill -HUP "$runner_c"
  fi
}
runner_sv_enable() {
  runner_unit_file >/dev/null || {
    printf 'service %s: no unit file %s/%s.service\n' "$runner_n" /etc/systemd/system "$runner_n" >&2; return 1; }
  mkdir -p /etc/runner/enabled && : >"/etc/runner/enabled/$runner_n"
}
runner_sv_disable() { rm -f "/etc/runner/enabled/$runner_n"; }
runner_sv_status() {
  if runner_unit_file >/dev/null; then echo unit=1; else echo unit=0; fi
  if [ -e "/etc/runner/enabled/$runner_n" ]; then echo enabled=1; else echo enabled=0; fi
  if runner_sv_pid >/dev/null; then echo running=1; else echo running=0; fi
}
"""


def library(name: str, with_loop: bool = True) -> str:
    """The supervisor's shell functions for service ``name`` (``runner_sv_start`` ...).

    ``with_loop=False`` leaves out the loop's text (enough for status, stop and enable).
    """
    loop = f"runner_loop={q(LOOP)}\n" if with_loop else ""
    return f"runner_n={q(name)}\n{loop}{LIB}"
