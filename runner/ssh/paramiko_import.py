"""paramiko, imported the way runner wants it: ``from runner.ssh.paramiko_import import paramiko``.

paramiko imports invoke when it is imported (about 75 ms, a fifth of
runner's start-up, for invoke's own YAML, asyncio and unittest imports), only
to run the ``Match exec`` lines of an ssh config. That import is skipped here;
:func:`runner.ssh.target.enable_match_exec` does it when a config has such a line.

paramiko logs every failed connection (with a traceback) from its transport
thread through the ``paramiko`` logger; with no handler configured, Python's
last-resort handler prints that on stderr, in the middle of the live lines and
the summary. runner reports each failure itself (a HostError naming the host),
so the ``paramiko`` logger gets a handler that drops everything and does not
pass records up to the root logger.
"""

import logging
import sys

_paramiko_log = logging.getLogger("paramiko")
_paramiko_log.addHandler(logging.NullHandler())
_paramiko_log.propagate = False

if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` fails inside paramiko.config
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]
else:
    import paramiko

__all__ = ["paramiko"]
