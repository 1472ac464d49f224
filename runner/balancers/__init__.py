"""Load balancers: take app instances out of rotation and put them back (rolling and blue/green deploys).

:mod:`runner.balancers.api` holds the contract; :mod:`runner.balancers.haproxy`
is the built-in implementation. Opening the balancer of an app (which needs the
plugin registry and the provider) is deploy's job:
:func:`runner.deploy.balancer.open_balancer`.
"""
