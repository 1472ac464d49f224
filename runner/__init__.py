"""runner: agentless, plugin-based configuration management and deployment over SSH."""

import pluggy

__version__ = "0.1.0"

#: Marks a function as the implementation of a hook in :mod:`runner.hookspecs`.
hookimpl = pluggy.HookimplMarker("runner")

__all__ = ["__version__", "hookimpl"]
