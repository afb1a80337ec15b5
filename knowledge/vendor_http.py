"""The one network call the help-center loaders make: GET a JSON document, with a timeout, errors typed.

Statuses map onto the helpdesk error tree (`integrations.base`): 429, 409 and 5xx, timeouts and
connection failures are `TransientHelpdeskError` (the knowledge task retries them, honouring
`Retry-After`); any other 4xx is a `PermanentHelpdeskError` (bad credentials, no Guide access…).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from integrations.base import PermanentHelpdeskError, TransientHelpdeskError

_NETWORK_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def get_json(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    timeout_s: float,
    vendor: str,
) -> tuple[Any, requests.Response]:
    """(parsed JSON body, response) of `GET url`. Raises the typed errors described in the module doc."""
    try:
        response = session.get(url, params=params, timeout=timeout_s)
    except _NETWORK_ERRORS as exc:
        raise TransientHelpdeskError(f"{vendor} {url} failed: {type(exc).__name__}") from exc
    status = response.status_code
    if status in (409, 429) or status >= 500:
        raise TransientHelpdeskError(
            f"{vendor} {url} answered {status}", retry_after_s=_retry_after_s(response), status=status
        )
    if status >= 400:
        raise PermanentHelpdeskError(f"{vendor} {url} answered {status}", status=status)
    try:
        return response.json(), response
    except ValueError as exc:
        raise TransientHelpdeskError(f"{vendor} {url} answered {status} with a body that is not JSON", status=status) from exc


def _retry_after_s(response: requests.Response) -> float | None:
    # Both vendors send Retry-After in seconds on 429.
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def on_base(url: str, base_url: str) -> str:
    """`url` (a vendor's next-page link) moved onto `base_url`'s scheme and host, path and query kept.

    Credentials only ever go to the configured host, and pagination keeps working behind a proxy
    or a test server whose links name the vendor's public host.
    """
    link, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))
