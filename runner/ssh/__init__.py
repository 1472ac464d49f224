"""SSH transport on paramiko: one connection per host for a whole run.

paramiko imports invoke when it is imported (about 75 ms, a fifth of
runner's start-up, for invoke's own YAML, asyncio and unittest imports), only
to run the ``Match exec`` lines of an ssh config. That import is skipped here;
:func:`runner.ssh.target.enable_match_exec` does it when a config has such a line.
"""

import sys

if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` fails inside paramiko.config
    try:
        import paramiko  # noqa: F401
    finally:
        del sys.modules["invoke"]
