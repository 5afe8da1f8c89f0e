"""The server's API key: in the operating system's keyring (Windows Credential Manager, macOS Keychain, the Secret
Service on Linux) through ``keyring``, or, where no keyring is available (a bare Linux desktop, a server), in a
file readable only by the user (0600, written atomically). Never in the settings file, never in a log."""

from __future__ import annotations

import logging
from pathlib import Path

from engine import paths
from engine.atomicfile import write_atomic

log = logging.getLogger(__name__)

SERVICE = "SpaceVoice remote engine"
USER = "api-key"


def key_file() -> Path:
    """The 0600 fallback file."""
    return paths.config_dir() / "remote-key"


def _keyring() -> object | None:
    """The keyring module when it has a real back end here, else ``None`` (its 'fail' and null back ends)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    names = {type(backend).__name__, type(backend).__module__}
    if isinstance(backend, fail.Keyring) or "null" in " ".join(names).lower() or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def store_key(key: str) -> str:
    """Keep ``key``; return where ("keyring" or the file's path)."""
    ring = _keyring()
    if ring is not None:
        try:
            ring.set_password(SERVICE, USER, key)  # type: ignore[attr-defined]
            key_file().unlink(missing_ok=True)
            return "keyring"
        except Exception as error:  # a locked or broken keyring: fall back to the private file
            log.info("keyring refused the key (%s); using a private file", type(error).__name__)
    write_atomic(key_file(), key.encode("utf-8"), private=True)
    return str(key_file())


def load_key() -> str:
    """The stored key, or "" when there is none."""
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, USER)  # type: ignore[attr-defined]
            if value:
                return str(value)
        except Exception as error:
            log.info("keyring could not be read (%s)", type(error).__name__)
    try:
        return key_file().read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def delete_key() -> None:
    """Forget the key everywhere it may be."""
    ring = _keyring()
    if ring is not None:
        try:
            ring.delete_password(SERVICE, USER)  # type: ignore[attr-defined]
        except Exception as error:  # no key stored there is fine
            log.debug("keyring delete: %s", type(error).__name__)
    key_file().unlink(missing_ok=True)
