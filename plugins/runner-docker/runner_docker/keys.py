"""The stack's SSH key pair: what the runner logs in to its containers with.

Made on first use as ``<state_dir>/id_ed25519`` (OpenSSH private format, mode
0600) and ``id_ed25519.pub``. The public line is always derived from the
private key, so a half-written ``.pub`` from a concurrent first run never
matters.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric import ed25519

KEY_NAME = "id_ed25519"
COMMENT = "runner"


def _public_line(private: ed25519.Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{raw.decode()} {COMMENT}"


def _write_new(path: Path, content: bytes, mode: int) -> bool:
    """Create ``path`` with ``content`` unless it exists; True when this call created it.

    Written to a temp file first, then hard-linked into place, so a reader never
    sees a partial key and two processes racing agree on one key.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def ensure_key(state_dir: Path) -> tuple[Path, str]:
    """Return ``(private key path, public key line)``, making the pair when missing."""
    # imported here, not with the module: only starting instances needs a key, not every status
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path = state_dir / KEY_NAME
    if not private_path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
        _write_new(private_path, pem, 0o600)
    if private_path.stat().st_mode & 0o077:  # ssh refuses a key others can read
        private_path.chmod(0o600)
    loaded = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{private_path} is not an Ed25519 key")
    public = _public_line(loaded)
    public_path = state_dir / f"{KEY_NAME}.pub"
    if not public_path.exists() or public_path.read_text().strip() != public:
        fd, name = tempfile.mkstemp(prefix=f".{public_path.name}.", dir=state_dir)
        with os.fdopen(fd, "w") as handle:
            handle.write(public + "\n")
        os.chmod(name, 0o644)
        os.replace(name, public_path)
    return private_path, public
