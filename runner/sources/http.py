"""HTTP downloads, and URLs shown without their credentials."""

from __future__ import annotations

import urllib.parse


def download(url: str, destination: str) -> None:
    """Fetch an http(s) URL into a file; ``user:password@`` in the URL becomes basic auth.

    Sent to the hosts as it is for ``fetch: remote`` (see
    :func:`runner.sources.archives.remote_python`): it imports what it needs.
    """
    import base64
    import shutil
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(url)
    if parts.username is not None:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=netloc)))
        secret = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(secret.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as response, open(destination, "wb") as handle:
        shutil.copyfileobj(response, handle)


def public_url(url: str) -> str:
    """``url`` without ``user:password@`` and without its query (which may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(text: str, url: str) -> str:
    """``text`` with every copy of ``url`` replaced by its :func:`public_url`."""
    return text.replace(url, public_url(url))
