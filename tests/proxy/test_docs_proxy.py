"""docs/proxy.md works as written: its Python blocks run in order, then its curl blocks, against a
server proxying to the fake upstream."""

import os
import re
import subprocess
from pathlib import Path

import httpx

from tests.proxy.conftest import PROVIDER_KEY, ProxyServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(DOC.read_text()) if m["lang"] == lang]


def on_server(code: str, proxy: ProxyServer) -> str:
    return (
        code.replace("http://127.0.0.1:8000", proxy.url)
        .replace("sk_your_token", proxy.admin_token)
        .replace("sk-your-provider-key", PROVIDER_KEY)
    )


def test_the_python_examples_run(proxy_server: ProxyServer) -> None:
    namespace: dict[str, object] = {"__name__": "docs_proxy"}
    python = blocks("python")
    assert len(python) >= 5
    for number, block in enumerate(python):
        try:
            exec(
                compile(on_server(block, proxy_server), f"proxy.md block {number}", "exec"),
                namespace,
            )
        except Exception as error:
            raise AssertionError(f"docs/proxy.md block {number} failed:\n{block}") from error
    trace_id, span_id = str(namespace["trace_id"]), str(namespace["span_id"])
    span = proxy_server.span(trace_id, span_id)
    assert span["capability"] == "support-agent" and span["user_id"] == "user-42"
    names = sorted((e["name"], e["value"]) for e in span["feedback"])
    assert names == [("response-quality", -1), ("response-quality", -1)]  # token, then header
    rated = str(namespace["rated_span"])
    with proxy_server.api() as api:
        events = api.get("/v1/feedback", params={"span_id": rated}).json()["items"]
    assert sorted(e["name"] for e in events) == ["feedback_reason", "user_feedback"]


def test_the_curl_examples_run(proxy_server: ProxyServer, tmp_path: Path) -> None:
    first = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        json={"model": "m", "messages": []},
        headers=proxy_server.plaudit_headers(),
    )
    env = {
        **os.environ,
        "OPENAI_API_KEY": PROVIDER_KEY,
        "PLAUDIT_TOKEN": proxy_server.admin_token,
        "SPAN_ID": first.headers["plaudit-span-id"],
    }
    shell = blocks("bash")
    assert len(shell) >= 4 and all("curl" in block for block in shell)
    script = "set -euo pipefail\n" + "\n".join(on_server(block, proxy_server) for block in shell)
    ran = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"^plaudit-span-id: [0-9a-f]{16}", ran.stdout, re.MULTILINE | re.IGNORECASE)
    assert "data: [DONE]" in ran.stdout
    assert '"attribute_feedback"' in ran.stdout
