"""Webhook destination: POST member keys as JSON in batches, retrying transient failures."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from ..errors import SegmentError
from . import ExportResult

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class WebhookError(SegmentError):
    """A batch could not be delivered; ``rows_sent`` says how many rows got through before."""

    def __init__(self, message: str, rows_sent: int) -> None:
        super().__init__(message)
        self.rows_sent = rows_sent


class WebhookDestination:
    """POST ``{"segment": name, "batch": n, "keys": [...]}`` to ``url``, ``batch_size`` keys at a time.

    Connection errors, timeouts and 408/429/5xx responses are retried ``retries`` times with
    exponential backoff (``backoff`` seconds, doubling); other 4xx responses fail at once.
    """

    name = "webhook"

    def target(self, url: str | None = None, **_: Any) -> str | None:
        return url

    def send(
        self, segment, url: str | None = None, batch_size: int = 1000, retries: int = 3, backoff: float = 0.5,
        timeout: float = 10.0, headers: dict[str, str] | None = None,
    ) -> ExportResult:  # fmt: skip
        if not url or not url.startswith(("http://", "https://")):
            raise SegmentError(f"webhook url must be an http(s) URL, not {url!r}")
        if batch_size < 1:
            raise SegmentError("batch_size must be at least 1")
        name = segment.name
        sent = 0
        batches = 0
        for chunk in segment.iter_members(batch_size, keys_only=True):
            keys = [k.item() if hasattr(k, "item") else k for k in chunk.iloc[:, 0].tolist()]
            if not keys:
                continue
            body = json.dumps({"segment": name, "batch": batches, "keys": keys}, default=str).encode()
            self._post(url, body, headers or {}, retries, backoff, timeout, sent)
            sent += len(keys)
            batches += 1
        return ExportResult(sent, url, {"batches": batches})

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
                        f"webhook {url} answered {e.code} {e.reason} after {attempt + 1} attempt(s); {sent} rows were sent before",
                        sent,
                    ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                if attempt >= retries:
                    reason = getattr(e, "reason", e)
                    raise WebhookError(
                        f"webhook {url} failed after {attempt + 1} attempt(s): {reason}; {sent} rows were sent before",
                        sent,
                    ) from None
            time.sleep(backoff * (2**attempt))
            attempt += 1
