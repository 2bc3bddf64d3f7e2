"""Webhook destination: POST member keys as JSON in batches, retrying transient failures."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..backends.base import mask_url
from ..errors import SegmentError
from . import ExportResult

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


# A URL or headers, or a callable that returns them at send time. Any: subclasses (changes.ChangesWebhook)
# narrow them to plain values.
Url = Any  # str | Callable[[], str] | None
ENV_PREFIX = "env:"  # url="env:HOOK_URL": the URL is that environment variable's value at send time
Headers = Any  # dict[str, str] | Callable[[], dict[str, str]] | None


class WebhookError(SegmentError):
    """A batch could not be delivered; ``rows_sent`` says how many rows got through before."""

    def __init__(self, message: str, rows_sent: int) -> None:
        super().__init__(message)
        self.rows_sent = rows_sent


class WebhookDestination:
    """POST ``{"segment": name, "batch": n, "keys": [...]}`` to ``url``, ``batch_size`` keys at a time
    (for a composite customer key each key is ``{column: value, ...}``).

    Connection errors, timeouts and 408/429/5xx responses are retried ``retries`` times with
    exponential backoff (``backoff`` seconds, doubling); other 4xx responses fail at once.

    ``https://user:password@host/...`` sends basic auth. The URL is stored in the catalog and shown in
    messages with its password, a bare ``token@`` and query parameters named like token/key/secret/
    signature masked. Credentials need not be in the code or the catalog at all: ``url="env:HOOK_URL"``
    reads the URL from that environment variable at send time, and ``url`` and ``headers`` may be
    callables, called at send time (``headers=lambda: {"Authorization": f"Bearer {vault.token()}"}``);
    the catalog logs the variable's name and that a callable was given, never what they returned.
    """

    name = "webhook"

    def target(self, url: Url = None, **_: Any) -> str | None:
        try:
            found = _resolve_url(url)
        except SegmentError:
            return None
        return mask_url(found) if isinstance(found, str) else None

    def send(
        self, segment, url: Url = None, batch_size: int = 1000, retries: int = 3, backoff: float = 0.5,
        timeout: float = 10.0, headers: Headers = None,
    ) -> ExportResult:  # fmt: skip
        url = _resolve_url(url)
        headers = headers() if callable(headers) else headers
        url, headers = _endpoint(url, headers)
        if batch_size < 1:
            raise SegmentError("batch_size must be at least 1")
        name = segment.name
        sent = 0
        batches = 0
        for chunk in segment.iter_members(batch_size, keys_only=True):
            plain = [
                [k.item() if hasattr(k, "item") else k for k in chunk[c].tolist()] for c in chunk.columns
            ]
            # one key column: its values; a composite key: {column: value} per member
            keys = (
                plain[0]
                if len(plain) == 1
                else [dict(zip(chunk.columns, r, strict=True)) for r in zip(*plain, strict=True)]
            )
            if not keys:
                continue
            body = json.dumps({"segment": name, "batch": batches, "keys": keys}, default=str).encode()
            self._post(url, body, headers or {}, retries, backoff, timeout, sent)
            sent += len(keys)
            batches += 1
        return ExportResult(sent, mask_url(url), {"batches": batches})

    def _post(self, url, body, headers, retries, backoff, timeout, sent) -> None:
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=body, method="POST")
            req.add_header("Content-Type", "application/json")
            for k, v in headers.items():
                req.add_header(k, v)
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    resp.read()
                    return
            except urllib.error.HTTPError as e:
                if e.code not in _RETRY_STATUS or attempt >= retries:
                    raise WebhookError(
                        f"webhook {mask_url(url)} answered {e.code} {e.reason} after {attempt + 1} attempt(s); {sent} rows were sent before",
                        sent,
                    ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                if attempt >= retries:
                    reason = mask_url(str(getattr(e, "reason", e)))
                    raise WebhookError(
                        f"webhook {mask_url(url)} failed after {attempt + 1} attempt(s): {reason}; {sent} rows were sent before",
                        sent,
                    ) from None
            time.sleep(backoff * (2**attempt))
            attempt += 1


def _resolve_url(url: Url) -> Any:
    """The URL to send to, read at send time: ``"env:NAME"`` from that environment variable, a callable
    called."""
    if isinstance(url, str) and url.startswith(ENV_PREFIX):
        name = url[len(ENV_PREFIX) :]
        if name not in os.environ:
            raise SegmentError(f"the environment variable {name} (url='{url}') is not set")
        return os.environ[name]
    return url() if callable(url) else url


def _endpoint(url: Any, headers: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    """Where to POST: ``url`` (an http(s) URL, else a SegmentError) without its user info, and the
    headers to send, its credentials as basic auth unless ``headers`` has its own Authorization."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        shown = mask_url(url) if isinstance(url, str) else repr(url)
        raise SegmentError(f"webhook url must be an http(s) URL, not {shown!r}")
    url, auth = _split_credentials(url)
    return url, {**({"Authorization": auth} if auth else {}), **(headers or {})}


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``https://user:pw@host/x`` -> (``https://host/x``, ``Basic ...``): urllib sends no URL user info."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"
