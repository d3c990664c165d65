"""Per-address rate limits count the real client: `X-Forwarded-For` only from proxies the
operator names (none by default), and each IPv6 /64 as one address."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plaudit.cli.serve import uvicorn_options
from plaudit.server.rate_limits import address_bucket
from plaudit.settings import Settings, from_environment
from tests.conftest import free_port, make_tokens, serving

BURST = 3


@pytest.mark.parametrize(
    ("address", "bucket"),
    [("203.0.113.7", "203.0.113.7"), ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
     ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"), ("::ffff:192.0.2.1", "192.0.2.1"),
     ("::1", "::/64"), ("not-an-address", "not-an-address")],
)  # fmt: skip
def test_ipv6_addresses_are_bucketed_by_their_64(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket


def test_trusted_proxies_are_a_setting_none_by_default() -> None:
    assert Settings().trusted_proxies == ()
    chosen = from_environment({"PLAUDIT_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,::1"})
    assert chosen.trusted_proxies == ("10.0.0.1", "192.168.0.0/16", "::1")
    assert chosen.problem() is None
    wrong = from_environment({"PLAUDIT_TRUSTED_PROXIES": "10.0.0.1,proxy.example"})
    assert "proxy.example" in (wrong.problem() or "")


@pytest.fixture
def started(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(url, browser token) of a server allowing BURST browser requests per address."""
    database_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    browser = make_tokens(database_url)[1]
    port = free_port()
    settings = Settings(
        database_url=database_url, port=port, grpc_port=0, rate_limit_ip_per_second=0.001,
        rate_limit_ip_burst=BURST, trusted_proxies=request.param,
    )  # fmt: skip
    # The server as `plaudit serve` runs it: the same uvicorn options (proxy headers above all).
    with serving(settings, **uvicorn_options(settings)) as url:
        yield url, browser


def statuses(url: str, token: str, forwarded_for: list[str]) -> list[int]:
    """Each request's status, with a browser token (read refused: 403; limited: 429)."""
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as client:
        return [
            client.get("/v1/feedback", headers={"x-forwarded-for": forwarded}).status_code
            for forwarded in forwarded_for
        ]


@pytest.mark.parametrize("started", [()], indirect=True)
def test_by_default_x_forwarded_for_is_ignored_even_from_loopback(started: tuple[str, str]) -> None:
    spoofed = [f"198.51.100.{i}" for i in range(BURST + 1)]
    assert statuses(*started, spoofed) == [403] * BURST + [429]


@pytest.mark.parametrize("started", [("127.0.0.1",)], indirect=True)
def test_a_trusted_proxy_names_the_client_and_ipv6_counts_per_64(started: tuple[str, str]) -> None:
    one_network = [f"2001:db8:0:1::{i}" for i in range(1, BURST + 2)]
    assert statuses(*started, one_network) == [403] * BURST + [429]
    others = ["2001:db8:0:2::1", "198.51.100.1", "198.51.100.2"]
    assert statuses(*started, others) == [403, 403, 403]
