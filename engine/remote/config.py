"""Whether, where and how SpaceVoice may use a server: the user's opt-in and the address policy.

The rules (README, "Privacy"):
- nothing is sent unless the user turned the remote engine on (``main.py remote enable``, which says plainly what
  will be sent where and asks once); with it off, no request is made, whatever the other settings say;
- ``http://`` is accepted only for loopback and private addresses (a home or office network); a public address
  must use ``https://`` unless the user confirmed plain HTTP for exactly that address;
- TLS certificates are always verified (the system's trust store);
- what is sent is the request for the job the user asked for: the picture (resized, JPEG), the question, the
  names and text SpaceVoice found locally, or the text to speak. No telemetry, no other calls.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError

PRIVACY_NOTICE = ("With the remote engine on, SpaceVoice sends the pictures you ask it to describe, your questions, "
                  "the names and text it found in them, and the text it speaks, to {url}. Nothing is sent "
                  "unless you ask for a description, an answer or speech that uses the server.")


@dataclass(frozen=True)
class RemoteConfig:
    """The remote engine's settings, read once per request."""

    enabled: bool
    url: str
    describer_model: str
    voice_model: str
    allow_plain_http: str  # the one http:// address the user confirmed, or ""

    @classmethod
    def from_settings(cls, settings: Any) -> RemoteConfig:
        """Read the ``remote_*`` settings."""
        return cls(bool(getattr(settings, "remote_enabled", False)), str(getattr(settings, "remote_url", "") or ""),
                   str(getattr(settings, "remote_describer_model", "") or ""),
                   str(getattr(settings, "remote_voice_model", "") or ""),
                   str(getattr(settings, "remote_allow_http", "") or ""))

    @property
    def base(self) -> str:
        """The base URL without a trailing slash or a trailing ``/v1``."""
        base = self.url.strip().rstrip("/")
        return base[:-3] if base.endswith("/v1") else base

    def usable(self) -> str | None:
        """``None`` when a request may be made now; else the plain reason why not."""
        if not self.enabled:
            return "The remote engine is off. Turn it on with: main.py remote enable"
        if not self.url:
            return "No server address is set. Set it with: main.py settings set remote_url http://HOST:PORT"
        try:
            check_address(self.base, confirmed=self.allow_plain_http)
        except InputError as error:
            return str(error)
        return None


def check_address(url: str, *, confirmed: str = "") -> str:
    """Return the normalised base URL, or raise `InputError` when SpaceVoice must not send to it.

    ``confirmed`` is the address the user allowed over plain HTTP (it must equal this one).
    """
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"{url!r} is not a server address.", "Give one like http://192.168.1.20:8080")
    if parsed.username or parsed.password:
        raise InputError("A server address must not carry a user name or password.",
                         "Keep the key apart: main.py remote key")
    if parsed.scheme == "http" and not is_local_host(parsed.hostname) and confirmed.rstrip("/") != base:
        raise InputError(f"{parsed.hostname} is not on this computer or your local network, and plain http:// "
                         "would send your pictures unencrypted across the internet.",
                         "Use https://, or confirm plain http for this address: main.py remote enable --allow-http")
    return base


def is_local_host(host: str) -> bool:
    """True for loopback and private-network addresses (and names that resolve only to such addresses).

    A name is looked up once here; a name that cannot be looked up counts as not local.
    """
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".local"):
            return True
        try:
            found = socket.getaddrinfo(host, None)
        except OSError:
            return False
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    return bool(addresses) and all(a.is_loopback or a.is_private or a.is_link_local for a in addresses)
