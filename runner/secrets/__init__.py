"""Secrets safe to commit: values encrypted with age (X25519), decrypted in memory when a command needs them."""
