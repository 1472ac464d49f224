"""Deployments: release directories on the hosts, rollbacks, history (app sources are runner.sources)."""
