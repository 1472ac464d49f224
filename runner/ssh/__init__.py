"""SSH transport on paramiko: one connection per host for a whole run."""
