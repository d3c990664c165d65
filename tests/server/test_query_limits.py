"""A query answer is bounded: past `query_groups` groups it is refused with 422 naming the limit,
on SQLite and PostgreSQL, and the server keeps answering smaller queries."""

from collections.abc import Iterator

import httpx
import pytest

from plaudit.core.limits import MAX_QUERY_GROUPS
from tests.conftest import LiveServer

TRACE, SPAN = "8bf92f3577b34da6a3ce929d0e0e4736", "80f067aa0ba902b7"


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def many_users(client: httpx.Client) -> int:
    """One more user than an answer may have groups, each with one thumbs-up."""
    users = MAX_QUERY_GROUPS + 1
    for start in range(0, users, 1000):
        batch = [
            {
                "id": f"g{i}",
                "trace_id": TRACE,
                "span_id": SPAN,
                "name": "groups",
                "value": "up",
                "user_id": f"u{i}",
            }
            for i in range(start, min(users, start + 1000))
        ]
        assert client.post("/v1/feedback", json={"feedback": batch}).status_code == 200
    return users


@pytest.mark.parametrize(
    "body",
    [{"query": 'count by user_id where name = "groups"'},
     {"query": 'count by user_id where name = "groups" per span'},
     {"query": 'p95 by user_id where name = "groups"'},
     {"metrics": ["count"], "group_by": ["user_id"],
      "filters": [{"field": "name", "op": "=", "value": "groups"}]}],
    ids=["text", "per span", "percentile", "structured"],
)  # fmt: skip
def test_too_many_groups_is_422_naming_the_limit(
    client: httpx.Client, many_users: int, body: dict[str, object]
) -> None:
    response = client.post("/v1/query", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["limit"] == "query_groups" and f"{MAX_QUERY_GROUPS:,}" in problem["detail"]


def test_fewer_groups_are_answered(client: httpx.Client, many_users: int) -> None:
    response = client.post("/v1/query", json={"query": 'count, up by name where name = "groups"'})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [["groups", many_users, many_users]]
