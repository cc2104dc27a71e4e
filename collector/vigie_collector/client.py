"""The two API calls the collector makes (register, send a batch), over one
keep-alive session. Errors become exceptions carrying the API's own message."""

from __future__ import annotations

import os

import requests

from . import __version__

# The same request can succeed later: 5xx (503: the database is down), 429 (rate
# limit), 408 (request timeout). Any other 4xx will not. Vigie's webhook sender
# retries by the same rule; tests/cases/retryable_statuses.json holds the cases
# both are tested against.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


def is_retryable(status: int) -> bool:
    """Whether a request answered with HTTP ``status`` is worth sending again."""
    return 500 <= status <= 599 or status in RETRYABLE_CLIENT_ERRORS


class Unreachable(Exception):
    """No HTTP answer: connection refused, DNS, TLS, timeout."""


class ApiError(Exception):
    """The API answered with an error status; ``message`` is its own sentence."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{message} (HTTP {status}{', ' + code if code else ''})")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return is_retryable(self.status)


def _error(response: requests.Response) -> ApiError:
    code, message, details = "", "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("error") or "")
        message = str(body.get("message") or "")
        details = body.get("details") if isinstance(body.get("details"), list) else None
    if not message:
        # Not Vigie's JSON: a proxy or load balancer answered.
        message = f"{response.status_code} {response.reason or ''}".strip()
    retry_after = None
    header = response.headers.get("Retry-After", "")
    if header.isdigit():
        retry_after = float(header)
    return ApiError(response.status_code, code, message, details, retry_after)


class Client:
    def __init__(self, api_url: str, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"vigie-collector/{__version__}"
        # The environment's proxy and CA settings (HTTPS_PROXY, NO_PROXY,
        # REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE), read once: a process's environment
        # does not change, and requests would read it all again for every request
        # (a measurable share of a send's CPU). ~/.netrc is not read: its password
        # would replace the Bearer token.
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.api_url)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle

    def close(self) -> None:
        self.session.close()

    def _post(self, path: str, token: str, body: dict | bytes) -> dict:
        headers = {"Authorization": f"Bearer {token}"}
        if isinstance(body, bytes):
            headers["Content-Type"] = "application/json"
        try:
            response = self.session.post(
                self.api_url + path,
                **({"data": body} if isinstance(body, bytes) else {"json": body}),
                headers=headers,
                timeout=(min(5.0, self.timeout), self.timeout),
            )
        except requests.RequestException as exc:
            raise Unreachable(f"{self.api_url} is unreachable: {_short(exc)}") from None
        if response.status_code >= 400:
            raise _error(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "", f"{path} answered something that is not JSON"
            ) from None

    def register(self, enroll_token: str, host: dict) -> dict:
        return self._post("/api/servers/register", enroll_token, host)

    def send_batch(self, server_id: int, token: str, samples: list[dict]) -> dict:
        return self._post("/api/metrics/batch", token, {"server_id": server_id, "samples": samples})

    def send_bodies(self, server_id: int, token: str, bodies: list[str]) -> dict:
        """``send_batch`` for samples already in JSON (the backlog keeps them so):
        a wide sample is a few KiB, not worth decoding and encoding again."""
        body = f'{{"server_id":{int(server_id)},"samples":[{",".join(bodies)}]}}'
        return self._post("/api/metrics/batch", token, body.encode())

    def health(self) -> str:
        """A short description of the API's health, for ``status``."""
        try:
            response = self.session.get(self.api_url + "/api/health", timeout=self.timeout)
        except requests.RequestException as exc:
            return f"unreachable ({_short(exc)})"
        try:
            body = response.json()
            return f"{body['status']} (database {body['database']})"
        except (ValueError, KeyError, TypeError):
            return f"answered HTTP {response.status_code}, not a Vigie API?"


def _short(exc: Exception) -> str:
    """The root cause of a requests error, without urllib3's nested reprs."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or type(cause).__name__
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text.split(": ", 1)[-1][:200]
