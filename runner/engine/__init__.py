"""The engine: per host, one remote command to probe every resource, one to apply what differs."""
