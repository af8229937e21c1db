"""One BigCommerce store's REST API: paths, auth, paging, pacing and errors (see API.md)."""

import logging
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient

# dlt exports its paginators and the exception that skips a response only from these modules.
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
from requests.auth import AuthBase

from bigcommerce_assets.pacing import QuotaPacer, QuotaReading
from bigcommerce_assets.transport import (
    PacedAdapter,
    QuotaSilenceError,
    RequestStats,
    UnreadableBodyError,
    endpoint_of,
)

DEFAULT_API_URL = "https://api.bigcommerce.com"
# API.md §3/§4/§6: 250 is the largest page every collection we read accepts.
MAX_PAGE_SIZE = 250
RETRY_STATUSES = (500, 502, 503, 504)
RETRY_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    UnreadableBodyError,
)
# API.md §2: the read-only scope each endpoint family needs, as the README lists them.
SCOPES = {
    "v3/customers": "Customers (store_v2_customers_read_only)",
    "v2/orders": "Orders (store_v2_orders_read_only)",
    "v3/orders": "Order Transactions (store_v2_transactions_read_only)",
    "v3/catalog": "Products (store_v2_products_read_only)",
    "v2/store": "Information & Settings (store_v2_information_read_only)",
}
# API.md §2: writing customers, their attributes and attribute values needs the modify scope.
WRITE_SCOPE = "Customers modify (store_v2_customers)"
# API.md §9: a write BigCommerce refuses because of what it carries, not how it was sent.
REJECTION_STATUSES = (404, 422)
WriteMethod = Literal["PUT", "POST", "DELETE"]
Method = Literal["GET", WriteMethod]
_HASH = re.compile(r"[a-z0-9]+")
_HASH_IN_URL = re.compile(r"store-([a-z0-9]+)\.mybigcommerce\.com|/stores/([a-z0-9]+)(?:/|$)")

logger = logging.getLogger(__name__)


class Page(list[dict]):
    """One page of a collection, with the store's clock when it answered (its `Date` header;
    None if the answer had none)."""

    def __init__(self, records: Iterable[dict], answered_at: datetime | None) -> None:
        super().__init__(records)
        self.answered_at = answered_at


class BigCommerceError(Exception):
    """A call to BigCommerce failed; the message is one sentence a person can act on."""


class RejectedError(BigCommerceError):
    """BigCommerce refused a write for what it carries (404 or 422); nothing was written.

    `problems` is the API's `errors` object: keys such as `3.customer_id` name the item index
    and field, values give the reason.
    """

    def __init__(self, message: str, problems: dict[str, str]) -> None:
        super().__init__(message)
        self.problems = problems


def parse_store_hash(value: str) -> str:
    """Reduce a pasted control-panel URL or API path to the store hash, or explain why not."""
    text = value.strip()
    match = _HASH_IN_URL.search(text.lower())
    if match:
        store_hash = match.group(1) or match.group(2)
        logger.info(
            "BIGCOMMERCE_STORE_HASH looked like a URL; using the store hash %r.", store_hash
        )
        return store_hash
    if not text:
        raise BigCommerceError("BIGCOMMERCE_STORE_HASH is empty: set it to your store hash.")
    if not _HASH.fullmatch(text):
        raise BigCommerceError(
            f"BIGCOMMERCE_STORE_HASH {text!r} is not a store hash: a hash is lowercase letters "
            "and digits, as in the API path https://api.bigcommerce.com/stores/<hash>/v3/."
        )
    return text


class _TokenAuth(AuthBase):
    """Sends the token as `X-Auth-Token`; kept out of default headers, which dlt logs at DEBUG."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Auth-Token"] = self._token
        return request

    def __repr__(self) -> str:
        return "_TokenAuth(<hidden>)"


class _ShortPagePaginator(PageNumberPaginator):
    """v2 pages: stop on a short page, since v2 has no totals and answers 204 past the end."""

    def __init__(self, limit: int) -> None:
        super().__init__(base_page=1, page_param="page", total_path=None)
        self.limit = limit
        self.short_page_seen = False

    def init_request(self, request: requests.Request) -> None:
        self.short_page_seen = False
        super().init_request(request)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        self.short_page_seen = data is not None and len(data) < self.limit

    @property
    def has_next_page(self) -> bool:
        return super().has_next_page and not self.short_page_seen


def _raise_for_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: v2 answers 204 with no body past the last page; errors become HTTPError.

    Hooks run before requests reads the body, so it is read here first: that hands the
    connection back to the pool even when this hook raises, and keeps the body for messages.
    """
    _ = response.content
    if response.status_code == 204:
        raise IgnoreResponseException
    if response.status_code >= 400:
        raise requests.HTTPError(f"HTTP {response.status_code}", response=response)


class BigCommerceClient:
    """One store's REST API, paged and paced the way BigCommerce expects."""

    def __init__(
        self,
        *,
        api_url: str,
        store_hash: str,
        access_token: str,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        give_up_after_seconds: float = 15 * 60,
        workers: int = 8,
        log: logging.Logger | None = None,
    ) -> None:
        if not access_token.strip():
            raise BigCommerceError(
                "BIGCOMMERCE_ACCESS_TOKEN is empty: create a store-level API account and set "
                "its access token."
            )
        self.api_url = api_url.rstrip("/")
        self.store_hash = parse_store_hash(store_hash)
        self.log = log or logger
        self.workers = workers
        self.max_attempts = max_attempts
        self.give_up_after_seconds = give_up_after_seconds
        self.stats: dict[str, RequestStats] = {}
        base_url = f"{self.api_url}/stores/{self.store_hash}/"
        self._pacer = QuotaPacer()
        session = Client(
            request_timeout=timeout,
            raise_for_status=False,
            status_codes=RETRY_STATUSES,
            exceptions=RETRY_EXCEPTIONS,
            request_max_attempts=max_attempts,
            request_backoff_factor=backoff_seconds,
            request_max_retry_delay=60,
            respect_retry_after_header=False,
        ).session
        adapter = PacedAdapter(
            self._pacer,
            self.stats,
            base_url=base_url,
            give_up_after_seconds=give_up_after_seconds,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Accept"] = "application/json"
        self._rest = RESTClient(base_url=base_url, auth=_TokenAuth(access_token), session=session)

    def pages(self, path: str, *, params: dict[str, Any] | None = None) -> Iterator[Page]:
        """Yield every page of a v2 or v3 collection at the largest page size."""
        params = {**(params or {}), "limit": MAX_PAGE_SIZE}
        if path.startswith("v3/"):
            paginator: PageNumberPaginator = PageNumberPaginator(
                base_page=1, page_param="page", total_path="meta.pagination.total_pages"
            )
            selector = "data"
        else:
            paginator, selector = _ShortPagePaginator(MAX_PAGE_SIZE), "$"
        pages = self._rest.paginate(
            path,
            params=params,
            paginator=paginator,
            data_selector=selector,
            hooks={"response": [_raise_for_status]},
        )
        with self._explained("GET", path):
            for number, page in enumerate(pages, start=1):
                self.log.info(
                    "GET %s page %d: %d records, quota left %s",
                    path,
                    number,
                    len(page),
                    page.response.headers.get("X-Rate-Limit-Requests-Left", "?"),
                )
                yield Page(page, _answered_at(page.response))

    def fetch(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        """GET one resource; None when BigCommerce answers 204 (an order without transactions)."""
        return self._call("GET", path, params=params)

    def fetch_each(self, paths: Iterable[str]) -> Iterator[tuple[str, Any]]:
        """GET many resources concurrently within the quota, yielding (path, body) in order."""
        paths = list(paths)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="bigcommerce") as pool:
            yield from zip(paths, pool.map(self.fetch, paths), strict=True)

    def write(
        self,
        method: WriteMethod,
        path: str,
        *,
        body: list[dict[str, Any]] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """PUT, POST or DELETE; the response body, or None when BigCommerce answers 204.

        Raises:
            RejectedError: BigCommerce refused the items (404 or 422).
            BigCommerceError: any other failure, after the same retries as reads.
        """
        return self._call(method, path, body=body, params=params)

    def _call(
        self,
        method: Method,
        path: str,
        *,
        body: list[dict[str, Any]] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request: the body of its answer, None for a 204, else one sentence."""
        with self._explained(method, path):
            try:
                response = self._rest.request(
                    path,
                    method=method,
                    json=body,
                    params=params,
                    hooks={"response": [_raise_for_status]},
                )
            except IgnoreResponseException:
                return None
        return response.json()

    def cost(self, endpoints: Iterable[str] | None = None) -> RequestStats:
        """What the calls so far cost, over every endpoint or only the ones named (as
        `endpoint_of` names them); `.metadata()` gives the figures runs record."""
        names = self.stats.keys() if endpoints is None else endpoints
        return sum((self.stats.get(name, RequestStats()) for name in names), RequestStats())

    @property
    def quota(self) -> QuotaReading | None:
        """The store's quota as the freshest rate-limit headers reported it."""
        return self._pacer.reading

    def close(self) -> None:
        """Close the pooled connections."""
        self._rest.session.close()

    def _explained(self, method: str, path: str) -> "_FailureExplainer":
        return _FailureExplainer(method, path, self)


class _FailureExplainer:
    """Turns a failed call into one BigCommerceError sentence naming method, path and status."""

    def __init__(self, method: str, path: str, client: BigCommerceClient) -> None:
        self.method, self.endpoint, self.client = method, endpoint_of(path), client

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type | None, error: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if isinstance(error, requests.HTTPError) and error.response is not None:
            response = error.response
            if self.method != "GET" and response.status_code in REJECTION_STATUSES:
                raise RejectedError(self._describe(response), _api_problems(response)) from None
            raise BigCommerceError(self._describe(response)) from None
        call = f"{self.method} {self.endpoint}"
        if isinstance(error, UnreadableBodyError):
            raise BigCommerceError(
                f"BigCommerce answered {call} with {error} on each of "
                f"{self.client.max_attempts} attempts; nothing from it was loaded."
            ) from None
        if isinstance(error, QuotaSilenceError):
            minutes = self.client.give_up_after_seconds / 60
            raise BigCommerceError(
                f"BigCommerce refused every request with 429 (rate limited) for {minutes:g} "
                f"minutes, the last being {call}: other apps are spending the store's whole "
                "quota; run again later (merge loading continues where this stopped)."
            ) from None
        if isinstance(error, RETRY_EXCEPTIONS):
            raise BigCommerceError(
                f"Could not reach BigCommerce at {self.client.api_url} for {self.method} "
                f"{self.endpoint} after retries ({type(error).__name__}); check "
                "BIGCOMMERCE_API_URL and the network."
            ) from None
        return False

    def _describe(self, response: requests.Response) -> str:
        status, call = response.status_code, f"{self.method} {self.endpoint}"
        if status == 401:
            return (
                f"BigCommerce rejected the access token (401) on {call}: "
                "check BIGCOMMERCE_ACCESS_TOKEN."
            )
        if status == 403:
            scope = (
                WRITE_SCOPE
                if self.method != "GET"
                else next((s for p, s in SCOPES.items() if self.endpoint.startswith(p)), "needed")
            )
            return (
                f"BigCommerce refused {call} (403): the API account lacks the {scope} scope "
                "(README: 'Connect a real store')."
            )
        if status == 404 and self.method == "GET" and "{id}" not in self.endpoint:
            return (
                f"BigCommerce does not know this store (404 on {call}): check "
                "BIGCOMMERCE_STORE_HASH and BIGCOMMERCE_API_URL."
            )
        return f"BigCommerce answered {status} to {call}: {_api_message(response)}"


def _answered_at(response: requests.Response) -> datetime | None:
    """The `Date` header of an answer, the store's clock when it answered."""
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


def _api_problems(response: requests.Response) -> dict[str, str]:
    """The `errors` object of a v3 error body, as strings; empty when there is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    errors = body.get("errors") if isinstance(body, dict) else None
    return (
        {str(key): str(value) for key, value in errors.items()} if isinstance(errors, dict) else {}
    )


def _api_message(response: requests.Response) -> str:
    """The API's own reason from a v2 (`[{status, message}]`) or v3 (`{title, errors}`) body."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no reason given"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message", body[0]))
    if isinstance(body, dict):
        errors = body.get("errors") or {}
        detail = "; ".join(f"{key}: {value}" for key, value in errors.items())
        return ". ".join(part for part in (str(body.get("title", "")), detail) if part)
    return str(body)[:200]
