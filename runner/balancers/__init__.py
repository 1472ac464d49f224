"""Load balancers: take app instances out of rotation and put them back (rolling and blue/green deploys).

:mod:`runner.balancers.api` holds the contract; :mod:`runner.balancers.haproxy`
is the built-in implementation; :func:`runner.balancers.connect.open_balancer`
opens the balancer of an app.
"""
