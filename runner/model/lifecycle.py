"""The one vocabulary of lifecycle events and of the commands that run them (OpsWorks' names).

A *lifecycle event* is what a layer lists recipes for in stack.yml
(``recipes: {setup: [...], deploy: [...]}``) and what a recipe sees as
``event``. A *command* is what a run does; a command runs one or more events:

=================  ==============================================================
command            events it runs
=================  ==============================================================
converge           setup (on instances never set up), then configure
setup              setup (which ends with a deploy of each app of the layers)
configure          configure
execute_recipes    the named recipes (``event`` is ``execute_recipes``)
shutdown           shutdown (before ``instances stop|destroy``)
install_depend...  none: the layers' packages again, as setup installs them
deploy, rollback   deploy (the app's release moves)
undeploy           undeploy
=================  ==============================================================
"""

from __future__ import annotations

SETUP, CONFIGURE, DEPLOY, UNDEPLOY, SHUTDOWN = "setup", "configure", "deploy", "undeploy", "shutdown"
#: the events a layer lists recipes for, in stack.yml order of a lifetime
LIFECYCLE_EVENTS: tuple[str, ...] = (SETUP, CONFIGURE, DEPLOY, UNDEPLOY, SHUTDOWN)

#: not a lifecycle event: the run of recipes named on the command line; recipes see it as ``event``
EXECUTE_RECIPES = "execute_recipes"
#: what ``event`` may be in a recipe's context
RECIPE_EVENTS: tuple[str, ...] = (*LIFECYCLE_EVENTS, EXECUTE_RECIPES)

CONVERGE, ROLLBACK = "converge", "rollback"
#: OpsWorks' command that installs the layers' packages again (no recipes run)
INSTALL_DEPENDENCIES = "install_dependencies"
#: the commands that run recipes on instances through the engine (no release moves)
RECIPE_COMMANDS: tuple[str, ...] = (CONVERGE, SETUP, CONFIGURE, EXECUTE_RECIPES, SHUTDOWN, INSTALL_DEPENDENCIES)
#: the commands that move an app's release
DEPLOY_COMMANDS: tuple[str, ...] = (DEPLOY, ROLLBACK, UNDEPLOY)
