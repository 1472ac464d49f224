"""Deployments: app sources, release directories on the hosts, rollbacks, history."""
