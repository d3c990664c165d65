"""Investigating in Chromium: traces, conversations, users, time ranges, chart drill-down, shared
links, exports, marks that follow their value, resource attributes, and 390 px screens."""

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import ConsoleServer, sign_in

# What the console's CSS gives --down and --up in the light theme.
RED = "rgb(164, 14, 38)"
GREEN = "rgb(17, 99, 41)"


def _events(server: ConsoleServer, **params: Any) -> list[dict[str, Any]]:
    headers = {"authorization": f"Bearer {server.admin_token}"}
    answer = httpx.get(f"{server.url}/v1/feedback", params={"limit": 500, **params},
                       headers=headers)  # fmt: skip
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _durations(page: Page) -> list[float]:
    cells = page.locator("#traces tbody td.num").all_inner_texts()
    return [float(text.replace(",", "").removesuffix(" ms")) for text in cells]


def test_traces_are_searched_sorted_and_opened(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    page.get_by_role("link", name="Traces", exact=True).click()
    expect(page).to_have_url(f"{url}/traces")
    page.get_by_role("textbox", name="Search").fill("feedback.response-quality = -1")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/traces\?q=feedback.response-quality"))
    rows = page.locator("#traces tbody tr[data-trace]")
    expect(rows.first).to_be_visible()
    page.get_by_role("link", name="Longest").click()
    expect(page).to_have_url(re.compile(r"sort=duration"))
    expect(page.get_by_role("link", name="Longest")).to_have_attribute("aria-current", "true")
    durations = _durations(page)
    assert len(durations) > 1 and durations == sorted(durations, reverse=True)
    # Every listed trace has a 👎 (the search), and says so in words.
    for summary in page.locator("#traces td.feedback-summary .visually-hidden").all_inner_texts():
        assert "bad" in summary
    trace_id = rows.first.get_attribute("data-trace")
    rows.first.locator("td.time").click()  # the row, not its link
    expect(page).to_have_url(f"{url}/traces/{trace_id}")
    expect(page.locator("h1")).to_contain_text(trace_id or "")


def test_from_a_trace_to_its_conversation_and_its_user(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/traces?since=30d")
    row = page.locator("#traces tbody tr[data-trace]").filter(
        has=page.locator("a[href^='/conversations/']")
    ).first  # fmt: skip
    trace_id = row.get_attribute("data-trace")
    row.locator("a.open").click()
    page.locator(".muted a[href^='/conversations/']").first.click()
    expect(page).to_have_url(re.compile(r"/conversations/demo-conv-\d+"))
    turns = page.locator("ol.turns > li")
    expect(turns.first).to_be_visible()
    assert trace_id in [t.get_attribute("data-trace") for t in turns.all()]
    page.locator("a[href^='/users/']").first.click()
    expect(page).to_have_url(re.compile(r"/users/user-\d+"))
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    expect(page.locator("a[href^='/conversations/']").first).to_be_visible()
    page.get_by_role("link", name="all of them in the explorer").click()
    expect(page).to_have_url(re.compile(r"/feedback\?user=user-\d+"))


def test_the_range_is_picked_and_kept_in_the_url(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    page.get_by_role("navigation", name="Time range").get_by_role("link", name="24h").click()
    expect(page).to_have_url(f"{url}/?since=24h")
    expect(page.get_by_role("link", name="24h")).to_have_attribute("aria-current", "true")
    page.get_by_label("From").fill("2026-11-20T00:00")
    page.get_by_label("to", exact=True).fill("2026-11-27T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"since=2026-11-20T00%3A00&until=2026-11-27T00%3A00"))
    expect(page.get_by_label("From")).to_have_value("2026-11-20T00:00")
    expect(page.locator("p.muted").first).to_contain_text("2026-11-20T00:00 to 2026-11-27T00:00")
    # The explorer keeps its filters when the range changes, and its range when filtered.
    page.goto(f"{url}/feedback?capability=search&since=7d")
    page.get_by_role("navigation", name="Time range").get_by_role("link", name="30d").click()
    expect(page).to_have_url(re.compile(r"capability=search&since=30d"))
    page.get_by_label("Name").fill("response-quality")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"since=30d"))
    page.goto(f"{url}/traces?q=feedback.response-quality+%3D+-1")
    page.get_by_role("navigation", name="Time range").get_by_role("link", name="1h").click()
    expect(page).to_have_url(re.compile(r"q=feedback.response-quality.*since=1h"))


def _chart(page: Page, chart_id: str) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        """(id) => { const u = document.getElementById(id).uplot;
           return {min: u.scales.y.min, max: u.scales.y.max,
                   legend: u.root.querySelector('.u-legend').innerText}; }""",
        chart_id,
    )
    return found


def test_charts_start_at_zero_and_their_legend_shows_values(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/?since=30d")
    page.wait_for_function("document.getElementById('satisfaction-chart').uplot !== undefined")
    satisfaction = _chart(page, "satisfaction-chart")
    assert (satisfaction["min"], satisfaction["max"]) == (0, 1)
    assert "--" not in satisfaction["legend"] and "%" in satisfaction["legend"]
    assert re.search(r"time:?\s*\d{4}-\d\d-\d\d", satisfaction["legend"])
    volume = _chart(page, "volume-chart")
    assert volume["min"] == 0 and volume["max"] > 0
    assert re.search(r"support-agent:?\s*\d", volume["legend"])


def _a_clear_point(page: Page, chart_id: str) -> dict[str, Any]:
    """A point of the chart with no other series' point within 12 px: where to click, and what."""
    found: dict[str, Any] = page.evaluate(
        """(id) => {
          const figure = document.getElementById(id), u = figure.uplot;
          const data = JSON.parse(figure.querySelector('.chart-data').textContent);
          // Not the first or last bucket: their points sit on the plot's edges.
          for (let i = data.x.length - 2; i >= 1; i--) {
            for (let s = 0; s < data.series.length; s++) {
              const v = data.series[s].values[i];
              if (v == null || v === 0) continue;
              const y = u.valToPos(v, 'y');
              const near = data.series.some((o, k) => k !== s && o.values[i] != null
                && Math.abs(u.valToPos(o.values[i], 'y') - y) < 12);
              if (near) continue;
              const box = u.over.getBoundingClientRect();
              return {x: box.left + u.valToPos(data.x[i], 'x'), y: box.top + y,
                      name: data.series[s].name, at: data.x[i], step: data.drill.step};
            }
          }
          return null;
        }""",
        chart_id,
    )
    assert found is not None, "no point stands alone on the chart"
    return found


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def test_a_chart_click_opens_the_explorer_on_that_capability_and_bucket(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/?since=14d")
    page.wait_for_function("document.getElementById('volume-chart').uplot !== undefined")
    point = _a_clear_point(page, "volume-chart")
    page.mouse.move(point["x"], point["y"])
    page.mouse.click(point["x"], point["y"])
    since, until = _iso(point["at"]), _iso(point["at"] + point["step"])
    expect(page).to_have_url(re.compile(r"/feedback\?"))
    assert httpx.URL(page.url).params.get("capability") == point["name"]
    assert httpx.URL(page.url).params.get("since") == since
    assert httpx.URL(page.url).params.get("until") == until
    capabilities = page.locator("#events tbody tr[data-event] td:nth-child(2)").all_inner_texts()
    assert capabilities and set(capabilities) == {point["name"]}
    times = page.locator("#events tbody tr[data-event] td.time").all_inner_texts()
    assert all(since[:10] <= t[:10] <= until[:10] for t in times)


def test_a_shared_link_reopens_the_same_event(
    page: Page, console_server: ConsoleServer, browser: Browser
) -> None:
    page.goto(f"{console_server.url}/feedback?capability=search&since=30d")
    row = page.locator("#events tbody tr[data-event]").nth(2)
    event_id = row.get_attribute("data-event")
    row.locator("a.open").click()
    expect(page.locator(f"#detail [data-detail='{event_id}']")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"capability=search&since=30d&event={event_id}"))
    shared = page.url
    other = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = other.new_page()
    sign_in(tab, console_server.url, console_server.admin_token)
    tab.goto(shared)
    expect(tab.locator(f"#detail [data-detail='{event_id}']")).to_be_visible()
    expect(tab.locator(f"#events tr[data-event='{event_id}']")).to_have_class(re.compile("current"))
    expect(tab.get_by_label("Capability")).to_have_value("search")
    other.close()
    page.keyboard.press("Escape")
    expect(page).not_to_have_url(re.compile("event="))
    page.go_back()  # the history holds the explorer before the event was opened
    expect(page).to_have_url(re.compile(r"capability=search&since=30d$"))


def _download(page: Page, link: str) -> str:
    with page.expect_download() as waiting:
        page.get_by_role("link", name=link, exact=True).click()
    path = waiting.value.path()
    return Path(path).read_text(encoding="utf-8")


def test_the_explorer_and_the_query_export_from_the_page(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/feedback?capability=search&name=response-quality")
    rows = list(csv.DictReader(io.StringIO(_download(page, "CSV"))))
    want = _events(console_server, capability="search", name="response-quality")
    assert len(rows) == len(want) > 0
    assert {r["capability"] for r in rows} == {"search"} and {r["name"] for r in rows} == {
        "response-quality"
    }
    lines = _download(page, "NDJSON").splitlines()
    assert {json.loads(line)["id"] for line in lines} == {e["id"] for e in want}
    page.goto(f"{console_server.url}/query?q=count+by+capability+since+30d")
    table = list(csv.reader(io.StringIO(_download(page, "CSV"))))
    assert table[0] == ["capability", "count"] and len(table) > 2
    answers = [json.loads(line) for line in _download(page, "NDJSON").splitlines()]
    assert {a["capability"] for a in answers} == {r[0] for r in table[1:]}


def _border(page: Page, event_id: str) -> str:
    color: str = page.evaluate(
        "(id) => getComputedStyle(document.querySelector(`li[data-feedback='${id}']`))"
        ".borderLeftColor",
        event_id,
    )
    return color


@pytest.mark.parametrize(
    ("name", "pick", "tone", "said"),
    [
        ("star-rating", lambda v: v >= 4, "good", "of 5"),
        ("star-rating", lambda v: v <= 2, "bad", "of 5"),
        ("response-quality", lambda v: v == 1, "good", "thumbs up"),
        ("response-quality", lambda v: v == -1, "bad", "thumbs down"),
    ],
)
def test_a_badge_is_coloured_and_said_by_its_value(
    page: Page, console_server: ConsoleServer, name: str, pick: Any, tone: str, said: str
) -> None:
    event = next(
        e for e in _events(console_server, name=name) if e["trace_id"] and pick(e["value"])
    )
    page.goto(f"{console_server.url}/traces/{event['trace_id']}?event={event['id']}")
    badge = page.locator(f"li[data-feedback='{event['id']}']")
    expect(badge).to_have_class(re.compile(f"tone-{tone}"))
    expect(badge.locator(".visually-hidden").first).to_contain_text(said)
    assert _border(page, event["id"]) == (GREEN if tone == "good" else RED)


def test_the_trace_shows_its_resource_and_counts_its_spans(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/traces/{console_server.attack_trace}")
    resource = page.locator("details.resource")
    expect(resource).to_contain_text("service.name")
    expect(resource).to_contain_text("acme-assistant")
    spans = page.locator(".waterfall > li").count()
    expect(page.locator("h1 + p")).to_contain_text(f"{spans} spans ·")


@pytest.mark.parametrize(
    "path",
    ["/", "/feedback?capability=search", "/traces", "/query?q=count+by+capability",
     "/conversations/demo-conv-0109", "/users/user-039", "/settings", "/datasets", "/queues"],
)  # fmt: skip
def test_pages_fit_a_390_px_screen(
    browser: Browser, console_server: ConsoleServer, path: str
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="light")
    tab = context.new_page()
    sign_in(tab, console_server.url, console_server.admin_token)
    tab.goto(console_server.url + path)
    tab.wait_for_load_state("networkidle")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    nav = tab.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Traces")).to_be_in_viewport()
    context.close()
