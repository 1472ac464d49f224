"""What ``runner watch`` decides each pass: auto-healing, time-based and load-based instances.

The watcher (runner.api's watch loop) reads every instance once per pass into
:class:`Sample` values, builds a :class:`WatchView`, asks each :class:`Policy`
for :class:`Action` values, and carries them out through the session's
lifecycle (start, stop, heal, configure). Policies are pure: they see the view
and keep their own JSON-able memory between passes in ``view.memory``.
"""
