"""SSH transports: ``paramiko`` (runner.ssh.connection) and ``openssh`` (runner.ssh.openssh).

paramiko is imported only by what uses it (:mod:`runner.ssh.paramiko_import`): a run
over the ``openssh`` transport, with no ~/.ssh/config to parse, never loads it.
"""
