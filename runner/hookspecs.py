"""Every hook a runner plugin can implement.

A plugin is a module (or object) with functions named like the specs below,
decorated with :data:`runner.hookimpl`. Built-in resource types, strategies,
providers, load balancers, app source types and commands are plugins of exactly this kind;
third-party ones are found through the ``runner`` entry-point group::

    # setup.cfg of a plugin distribution
    [options.entry_points]
    runner =
        cron = runner_cron.plugin

An implementation may accept a subset of a spec's arguments, so specs can
grow new arguments without breaking plugins. Hooks receive and return small
public types (:mod:`runner.model.stack`, :mod:`runner.providers.api`,
:mod:`runner.events` ...), never engine internals.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from runner.balancers.api import LoadBalancer
    from runner.events import HostResult, InstanceChange, RunInfo, RunReport
    from runner.providers.api import Provider
    from runner.resources.api import Resource
    from runner.sources.api import AppSourceType
    from runner.ssh.api import Transport
    from runner.strategies.api import Strategy

hookspec = pluggy.HookspecMarker("runner")


# -------------------------------------------------------------------------
# Registration hooks: called once, after every plugin is loaded, to build
# the registry. Results from all plugins are collected; a name registered
# twice is a usage error naming both plugins.
# -------------------------------------------------------------------------


@hookspec
def runner_resource_types() -> list[type[Resource]]:
    """Return the resource types this plugin adds (``file``, ``service``, a ``cron`` ...).

    Called once when the registry is built. Each class's ``type_name`` becomes a
    function in the recipe DSL and the ``type`` in ``type[name]``.

    :return: a list of :class:`runner.resources.api.Resource` subclasses.

    .. versionadded:: 0.1
    """


@hookspec
def runner_strategies() -> list[type[Strategy]]:
    """Return the deployment strategies this plugin adds (``rolling``, ``blue_green`` ...).

    Called once when the registry is built. Each class's ``name`` is what an
    app's ``deploy.strategy`` and ``runner deploy --strategy`` say.

    :return: a list of :class:`runner.strategies.api.Strategy` subclasses.

    .. versionadded:: 0.1
    """


@hookspec
def runner_providers() -> list[type[Provider]]:
    """Return the host providers this plugin adds (``static``, ``docker``, ``ec2`` ...).

    Called once when the registry is built. Each class's ``name`` is what
    ``stack.provider`` says in stack.yml.

    :return: a list of :class:`runner.providers.api.Provider` subclasses.

    .. versionadded:: 0.1
    """


@hookspec
def runner_load_balancers() -> list[type[LoadBalancer]]:
    """Return the load balancers this plugin adds (``haproxy``, an ``nginx``, a cloud balancer ...).

    Called once when the registry is built. Each class's ``name`` is what an
    app's ``deploy.load_balancer.type`` says; rolling and blue/green
    deployments use it to take instances out of rotation and put them back.

    :return: a list of :class:`runner.balancers.api.LoadBalancer` subclasses.

    .. versionadded:: 0.1
    """


@hookspec
def runner_app_sources() -> list[type[AppSourceType]]:
    """Return the app source types this plugin adds (``directory``, ``archive``, ``git``, ``s3``, an ``rsync`` ...).

    Called once when the registry is built. Each class's ``name`` is what an
    app's ``source.type`` says; its ``keys`` declare what else ``source:``
    accepts (checked when the stack is loaded, with file:line:col), and
    ``runner deploy`` calls its ``prepare`` (or ``prepare_remote`` for
    ``fetch: remote``) to get what the release directory is filled from.

    :return: a list of :class:`runner.sources.api.AppSourceType` subclasses.

    .. versionadded:: 0.2
    """


@hookspec
def runner_executors() -> list[Any]:
    """Return the executors this plugin adds: where the per-host work of a recipe run happens.

    Called once when the registry is built. Each class's ``scheme`` is the URL
    scheme it serves: ``runner converge --executor dask://HOST:PORT`` (or
    ``Session.open(..., executor=...)``) runs the hosts' jobs with the executor
    whose scheme is ``dask``; the built-in ``local`` one (threads of this
    process) is the default. Compiling, the setup record, the report,
    redaction and events stay on the controller.

    :return: a list of :class:`runner.engine.executor.Executor` subclasses
        (annotated ``Any`` here: executors sit in the engine, above the hooks).

    .. versionadded:: 0.4
    """


@hookspec
def runner_transports() -> list[type[Transport]]:
    """Return the SSH transports this plugin adds (``paramiko``, ``openssh``, a ``libssh`` ...).

    Called once when the registry is built. Each class's ``name`` is what
    ``stack.ssh.transport`` says in stack.yml; every connection to the
    stack's hosts is an instance of it, made with the host's
    :class:`runner.ssh.target.SshTarget`.

    :return: a list of :class:`runner.ssh.api.Transport` subclasses.

    .. versionadded:: 0.4
    """


# -------------------------------------------------------------------------
# Command-line hooks: called while the ``runner`` command line is built,
# before it is parsed.
# -------------------------------------------------------------------------


@hookspec
def runner_cookbooks() -> list[Path]:
    """Return the directories of cookbooks this plugin's distribution ships (each holds cookbook directories).

    Not called when the registry is built: only when a stack names the
    distribution in ``stack.cookbooks`` (``- package: runner-community-cookbooks``),
    so community cookbooks can be published and installed like plugins. The
    cookbooks are read from where the distribution is installed and locked in
    ``cookbooks.lock`` like fetched ones.

    :return: a list of :class:`pathlib.Path`, e.g. ``[Path(__file__).parent / "cookbooks"]``.

    .. versionadded:: 0.3
    """


@hookspec
def runner_commands() -> list[Any]:
    """Return the subcommands this plugin adds (``runner validate``, ``runner instances`` ...).

    Called once while the command line is built. The registry keeps each one
    by its ``name``; the command line uses the rest.

    :return: a list of :class:`runner.cli.api.Command` instances (annotated
        ``Any`` here: the hooks sit below the CLI and do not import it).

    .. versionadded:: 0.1
    """


@hookspec
def runner_add_options(parser: argparse.ArgumentParser) -> None:
    """Add global options to the ``runner`` command line.

    Called once while the command line is built, after the built-in global
    options are in place.

    :param parser: the top-level parser; add options with ``parser.add_argument``.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------
# Run hooks: called while a command runs on hosts. Report handlers and
# notifiers implement these. An exception in one is reported as a warning
# and never fails the run.
# -------------------------------------------------------------------------


@hookspec
def runner_run_start(run: RunInfo) -> None:
    """Called when a run (converge, deploy, ...) starts, before any host is touched.

    :param run: the command, the stack and the hosts of the run.

    .. versionadded:: 0.1
    """


@hookspec
def runner_run_finish(run: RunInfo, report: RunReport) -> None:
    """Called when a run has finished on every host, failed or not.

    :param run: as given to :func:`runner_run_start`.
    :param report: one :class:`runner.events.HostResult` per host.

    .. versionadded:: 0.1
    """


@hookspec
def runner_resource_changed(host: str, resource: str, summary: str) -> None:
    """Called after a resource changed a host.

    :param host: the instance's name.
    :param resource: the resource as ``type[name]``, e.g. ``service[hello]``.
    :param summary: one line saying what changed; never holds a sensitive value.

    .. versionadded:: 0.1
    """


@hookspec
def runner_host_failed(host: str, error: str, result: HostResult | None) -> None:
    """Called when a host fails (unreachable, a resource failed, a deploy step failed).

    The other hosts of the run go on.

    :param host: the instance's name.
    :param error: what went wrong, with its cause.
    :param result: what was done on the host before it failed, when known.

    .. versionadded:: 0.1
    """


@hookspec
def runner_instance_changed(change: InstanceChange) -> None:
    """Called for every decision of ``runner watch`` (the same one its events log gets).

    A heal, a start or stop by schedule or load, a give-up (start_failed), an
    instance seen to change status, a configure after the topology changed.
    Notifiers (chat, mail, metrics) implement it; it must return quickly.

    :param change: :class:`runner.events.InstanceChange` (time, stack, instance,
        action, from_status, to_status, why).

    .. versionadded:: 0.3
    """
