"""The demo project: two weeks of a realistic AI product, with its users' feedback.

`load_demo(url)` (run by `plaudit demo` and `plaudit serve --demo`) writes into project `default`:

- about 300 traces over the 14 days before the load, from five capabilities (`support-agent`,
  `summarize`, `sql-assistant`, `code-review`, `search`), each a root span with one child span per
  step (`retrieve` → `rerank` → `respond`, `plan` → `generate` → `validate`, …), carrying the GenAI
  semantic-convention attributes (operation, provider, model, token usage, conversation, input and
  output messages) and realistic durations; the turns of a conversation share
  `gen_ai.conversation.id`;
- feedback of every kind on the answering span: 👍/👎 (`response-quality`, some with comments and
  from a second user of the same span), 1 to 5 stars, an `issue-category` enum, free text, implicit
  `copy`/`regenerate` signals, corrections with the expected output, a nested `review` object,
  a conversation-level `resolved` bool, LLM-judge scores (`source=evaluator`) and reviewers'
  `root-cause` labels (`source=annotator`);
- a few revised votes (same id, changed value: history is kept) and a few events whose span was
  never exported (they stay `pending`);
- a story to find: satisfaction differs by capability, and `support-agent` dips after the
  release five days ago, which switched its model to a smaller one (`service.version` 1.8.0).

Everything is derived from a fixed seed, so the ids and contents are stable, and the same rules as
the API apply: events are built with `validate_feedback` and stored with the store's write ops. The
clock of the data is fixed at the first load (recovered from a marker span afterwards), so loading
again answers every event `duplicate` and changes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, select

from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import FeedbackEvent, Kind
from plaudit.core.spans import SpanRecord
from plaudit.core.times import rfc3339
from plaudit.core.validation import validate_feedback
from plaudit.store.configs import list_configs, put_config
from plaudit.store.database import create_database_engine
from plaudit.store.feedback import Status, StoreFeedback
from plaudit.store.migrate import upgrade
from plaudit.store.projects import pii_mode
from plaudit.store.schema import feedback, from_micros, spans
from plaudit.store.spans import StoreSpans
from plaudit.store.writer import take_write_lock

log = logging.getLogger(__name__)

PROJECT: Final = "default"
SEED: Final = 20_240_611
TRACES: Final = 300
DAYS: Final = 14
RELEASE_DAYS_AGO: Final = 5
"""The release that shipped `service.version` 1.8.0 and moved `support-agent` to a smaller model."""

_MINUTE: Final = 60_000_000  # microseconds
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_ACTOR: Final = "demo"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a load of the demo did."""

    project: str
    traces: int
    spans: int
    feedback: int
    """Feedback events in the demo (distinct ids)."""
    created: int
    duplicate: int
    revised: int
    pending: int
    """Events about spans that were never exported (they stay `pending`)."""
    anchor: datetime
    """The demo's "now": its traces cover the 14 days before it."""

    def __str__(self) -> str:
        return (
            f"demo project {self.project!r}: {self.traces} traces, {self.spans} spans, "
            f"{self.feedback} feedback events ({self.created} created, {self.revised} revised, "
            f"{self.duplicate} already there; {self.pending} pending)"
        )


# ---------------------------------------------------------------------------------------------
# What the demo product looks like


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    operation: str | None  # gen_ai.operation.name, or None for plain code
    min_ms: int
    max_ms: int


@dataclass(frozen=True, slots=True)
class _Capability:
    name: str
    route: str
    share: int
    steps: tuple[_Step, ...]
    provider: str
    model: str
    model_after_release: str
    satisfaction: float
    satisfaction_after_release: float
    exchanges: tuple[tuple[str, str], ...]
    complaints: tuple[str, ...]
    praise: tuple[str, ...]
    issues: tuple[str, ...]  # issue-category values, most likely first


_EMBED: Final = _Step("retrieve", "embeddings", 40, 180)
_RERANK: Final = _Step("rerank", None, 25, 110)

CAPABILITIES: Final = (
    _Capability(
        name="support-agent",
        route="/api/support/chat",
        share=34,
        steps=(_EMBED, _RERANK, _Step("respond", "chat", 900, 4200)),
        provider="openai",
        model="gpt-4.1",
        model_after_release="gpt-4.1-mini",
        satisfaction=0.84,
        satisfaction_after_release=0.52,
        exchanges=(
            (
                "How do I get a refund for an annual plan?",
                "Annual plans are refunded within 30 days: Settings → Billing → Cancel plan.",
            ),
            (
                "My invoice shows the wrong VAT number.",
                "You can update the VAT number under Billing details; new invoices will use it.",
            ),
            (
                "Can I move my workspace to the EU region?",
                "Yes: Enterprise workspaces can be migrated to Frankfurt. Support schedules it.",
            ),
            (
                "Why was my card declined?",
                "Declines come from your bank. Try again or add another card under Billing.",
            ),
            (
                "How do I add a teammate?",
                "Open Settings → Members and choose Invite; they get an email link.",
            ),
            (
                "Is there an API rate limit?",
                "The API allows 600 requests per minute per workspace; 429 means slow down.",
            ),
        ),
        complaints=(
            "It invented a refund policy we don't have.",
            "This link goes to a page that doesn't exist.",
            "Didn't answer my question, just repeated the docs.",
            "Wrong: the EU region is available on Pro too.",
            "Took forever and then gave a generic answer.",
        ),
        praise=("Perfect, thanks!", "Exactly what I needed.", "Solved it in one go."),
        issues=("hallucination", "off-topic", "too-slow", "wrong-format"),
    ),
    _Capability(
        name="summarize",
        route="/api/summarize",
        share=20,
        steps=(_Step("chunk", None, 4, 30), _Step("summarize", "chat", 1500, 6500)),
        provider="anthropic",
        model="claude-3-5-haiku",
        model_after_release="claude-3-5-haiku",
        satisfaction=0.87,
        satisfaction_after_release=0.85,
        exchanges=(
            (
                "Summarize this 12-page incident report.",
                "A config push disabled the cache for 47 minutes. Three fixes follow.",
            ),
            (
                "Give me the key points of the Q3 board deck.",
                "Revenue grew 18%, churn fell to 2.1%, and hiring pauses until January.",
            ),
            (
                "TL;DR of this customer call transcript?",
                "The customer wants SSO by March and will expand to 200 seats if it ships.",
            ),
            (
                "Summarize the thread about the pricing change.",
                "The team agreed to keep the free tier and raise Pro by 2 dollars from May.",
            ),
        ),
        complaints=(
            "Missed the main action item.",
            "Too long — I asked for a TL;DR.",
            "The numbers in the summary don't match the report.",
        ),
        praise=("Great summary.", "Saved me half an hour."),
        issues=("off-topic", "too-slow", "wrong-format", "hallucination"),
    ),
    _Capability(
        name="sql-assistant",
        route="/api/sql",
        share=18,
        steps=(
            _Step("plan", "chat", 350, 1300),
            _Step("generate", "chat", 600, 2200),
            _Step("validate", None, 15, 320),
        ),
        provider="openai",
        model="gpt-4o",
        model_after_release="gpt-4o",
        satisfaction=0.66,
        satisfaction_after_release=0.71,
        exchanges=(
            (
                "Monthly active users by plan for 2024",
                "SELECT date_trunc('month', seen_at) AS month, plan, count(DISTINCT user_id) "
                "FROM activity WHERE seen_at >= '2024-01-01' GROUP BY 1, 2 ORDER BY 1",
            ),
            (
                "Top 10 customers by revenue last quarter",
                "SELECT customer_id, sum(amount) AS revenue FROM invoices "
                "WHERE paid_at >= date_trunc('quarter', now()) - interval '3 months' "
                "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
            ),
            (
                "Orders that shipped late this week",
                "SELECT id, promised_at, shipped_at FROM orders "
                "WHERE shipped_at > promised_at AND shipped_at >= date_trunc('week', now())",
            ),
            (
                "Average ticket resolution time per team",
                "SELECT team, avg(closed_at - opened_at) FROM tickets GROUP BY team",
            ),
        ),
        complaints=(
            "The query uses a column that doesn't exist.",
            "Returns a cross join — thousands of duplicate rows.",
            "Wrong date range, this is the current quarter.",
        ),
        praise=("Ran first time.", "Nice, even handled the time zone."),
        issues=("wrong-format", "hallucination", "off-topic", "too-slow"),
    ),
    _Capability(
        name="code-review",
        route="/api/review",
        share=14,
        steps=(_Step("analyze", None, 90, 650), _Step("generate", "chat", 2200, 9000)),
        provider="anthropic",
        model="claude-sonnet-4",
        model_after_release="claude-sonnet-4",
        satisfaction=0.71,
        satisfaction_after_release=0.79,
        exchanges=(
            (
                "Review PR #482: retry logic for the webhook sender",
                "The retry loop never caps its backoff; add a maximum and jitter. Tests look good.",
            ),
            (
                "Review PR #517: new CSV export endpoint",
                "The export loads every row into memory; stream it instead. Escape formula cells.",
            ),
            (
                "Review PR #530: migrate settings page to React",
                "Two effects refetch on every render because of unstable deps. Otherwise fine.",
            ),
        ),
        complaints=(
            "Flagged a null check that is already there.",
            "Nitpicks only, missed the SQL injection.",
            "The suggested fix doesn't compile.",
        ),
        praise=("Caught a real bug, thanks.", "Useful review."),
        issues=("hallucination", "off-topic", "wrong-format", "too-slow"),
    ),
    _Capability(
        name="search",
        route="/api/search",
        share=14,
        steps=(_EMBED, _RERANK, _Step("answer", "chat", 500, 2400)),
        provider="openai",
        model="gpt-4o-mini",
        model_after_release="gpt-4o-mini",
        satisfaction=0.77,
        satisfaction_after_release=0.76,
        exchanges=(
            (
                "onboarding checklist for new engineers",
                "It is in Handbook → Engineering → First week, with the laptop setup guide.",
            ),
            (
                "where is the brand logo in SVG",
                "Logos are in the Brand kit folder on the shared drive, under /logos/svg.",
            ),
            (
                "holiday calendar 2025",
                "The 2025 holiday calendar is on the People page, with regional tabs.",
            ),
        ),
        complaints=("Old document, this changed last year.", "Not what I searched for."),
        praise=("Found it, thanks.",),
        issues=("off-topic", "hallucination", "too-slow", "wrong-format"),
    ),
)

ISSUE_CATEGORIES: Final = ("hallucination", "wrong-format", "too-slow", "off-topic")
ROOT_CAUSES: Final = ("retrieval-miss", "prompt-issue", "model-error", "stale-docs", "ui-bug")
REVIEWERS: Final = ("reviewer-ana", "reviewer-jonas")
_PLANS: Final = ("free", "pro", "pro", "enterprise")
_CLIENTS: Final = ("web", "web", "web", "ios", "slack")

CONFIGS: Final = (
    FeedbackConfig(name="response-quality", kind=Kind.THUMB, description="👍/👎 on an AI answer."),
    FeedbackConfig(name="star-rating", kind=Kind.NUMBER, description="1 to 5 stars.", min=1, max=5),
    FeedbackConfig(
        name="issue-category",
        kind=Kind.ENUM,
        description="What was wrong with a 👎 answer.",
        enum_values=list(ISSUE_CATEGORIES),
    ),
    FeedbackConfig(
        name="root-cause",
        kind=Kind.ENUM,
        description="A reviewer's diagnosis of a bad answer.",
        enum_values=list(ROOT_CAUSES),
    ),
    FeedbackConfig(
        name="resolved", kind=Kind.BOOL, description="Did the conversation solve the problem?"
    ),
)


# ---------------------------------------------------------------------------------------------
# The plan: everything as offsets (µs) before the demo's clock, so it is the same on every load


@dataclass(slots=True)
class _SpanPlan:
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start: int
    end: int
    attributes: dict[str, Any]
    status_code: str = "unset"
    status_message: str = ""
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class _TracePlan:
    trace_id: str
    capability: _Capability
    user: str
    conversation_id: str
    after_release: bool
    spans: list[_SpanPlan]
    stored: bool = True

    @property
    def answer(self) -> _SpanPlan:
        """The span whose output the user saw and rated (the last step)."""
        return self.spans[-1]

    @property
    def end(self) -> int:
        return self.spans[0].end

    @property
    def received(self) -> int:
        """When the exporter's batch reached the server."""
        return self.end + 900_000


@dataclass(slots=True)
class _FeedbackPlan:
    raw: dict[str, Any]
    at: int  # when the user acted
    latency: int  # until the server received it


@dataclass(slots=True)
class _Plan:
    traces: list[_TracePlan] = field(default_factory=list)
    feedback: list[_FeedbackPlan] = field(default_factory=list)
    revised_ids: set[str] = field(default_factory=set)
    pending_ids: set[str] = field(default_factory=set)


def _hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits) | 1, f"0{bits // 4}x")


def _messages(role: str, text: str, finish: bool = False) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish:
        message["finish_reason"] = "stop"
    return json.dumps([message], ensure_ascii=False)


def _tokens(text: str, rng: random.Random, context: int) -> int:
    return len(text) // 4 + context + rng.randint(5, 40)


class _Planner:
    """Draws the demo from one seeded random generator, in a fixed order."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.plan = _Plan()
        self.users = [f"user-{n:03d}" for n in range(1, 49)]
        self.user_plan = {u: self.rng.choice(_PLANS) for u in self.users}
        self.user_client = {u: self.rng.choice(_CLIENTS) for u in self.users}
        self.rated: dict[tuple[str, bool], tuple[int, int]] = {}

    def build(self) -> _Plan:
        conversation = 0
        while len(self.plan.traces) < TRACES:
            conversation += 1
            self._conversation(f"demo-conv-{conversation:04d}")
        for number, trace in enumerate(self.plan.traces):
            self._feedback(number, trace)
        self._revisions()
        self._pending()
        return self.plan

    # --- traces

    def _conversation(self, conversation_id: str) -> None:
        rng = self.rng
        capability = rng.choices(CAPABILITIES, weights=[c.share for c in CAPABILITIES])[0]
        user = rng.choice(self.users)
        turns = min(rng.choice((1, 1, 1, 2, 2, 3, 4)), TRACES - len(self.plan.traces))
        start = -rng.randint(30 * _MINUTE, DAYS * _DAY)
        for _ in range(turns):
            self.plan.traces.append(self._trace(capability, user, conversation_id, start))
            start += rng.randint(40, 400) * 1_000_000
            if start > -5 * _MINUTE:
                break
        last = self.plan.traces[-1]
        if capability.name == "support-agent" and rng.random() < 0.45:
            happy = rng.random() < (0.75 if not last.after_release else 0.45)
            self._add(
                {
                    "id": f"demo-{conversation_id}-resolved",
                    "name": "resolved",
                    "conversation_id": conversation_id,
                    "capability": capability.name,
                    "value": happy,
                    "user_id": user,
                    "metadata": self._metadata(user),
                },
                last.end + rng.randint(20, 600) * 1_000_000,
            )

    def _trace(
        self, capability: _Capability, user: str, conversation_id: str, start: int
    ) -> _TracePlan:
        rng = self.rng
        after = start > -RELEASE_DAYS_AGO * _DAY
        model = capability.model_after_release if after else capability.model
        question, answer = rng.choice(capability.exchanges)
        trace_id = _hex(rng, 128)
        root_id = _hex(rng, 64)
        children: list[_SpanPlan] = []
        at = start + rng.randint(1, 8) * 1000
        for step in capability.steps:
            duration = rng.randint(step.min_ms, step.max_ms) * 1000
            if after and capability.name == "support-agent" and step.operation == "chat":
                duration = duration * 13 // 10  # the new prompt is longer
            children.append(
                self._step_span(capability, step, model, question, answer, user,
                                conversation_id, root_id, at, duration)
            )  # fmt: skip
            at += duration + rng.randint(1, 6) * 1000
        root = _SpanPlan(
            span_id=root_id,
            parent_span_id=None,
            name=f"POST {capability.route}",
            kind="server",
            start=start,
            end=at + rng.randint(1, 5) * 1000,
            attributes={
                "http.request.method": "POST",
                "http.route": capability.route,
                "http.response.status_code": 200,
                "plaudit.capability": capability.name,
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": capability.name,
                "gen_ai.conversation.id": conversation_id,
                "enduser.id": user,
            },
        )
        return _TracePlan(trace_id, capability, user, conversation_id, after, [root, *children])

    def _step_span(
        self,
        capability: _Capability,
        step: _Step,
        model: str,
        question: str,
        answer: str,
        user: str,
        conversation_id: str,
        parent: str,
        start: int,
        duration: int,
    ) -> _SpanPlan:
        rng = self.rng
        attributes: dict[str, Any] = {
            "plaudit.capability": capability.name,
            "plaudit.step": step.name,
        }
        name = step.name
        kind = "internal"
        if step.operation == "chat":
            name, kind = f"chat {model}", "client"
            attributes.update(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": capability.provider,
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": model,
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.usage.input_tokens": _tokens(question, rng, rng.randint(300, 2400)),
                    "gen_ai.usage.output_tokens": _tokens(answer, rng, rng.randint(10, 300)),
                    "gen_ai.response.finish_reasons": ["stop"],
                    "gen_ai.conversation.id": conversation_id,
                    "gen_ai.input.messages": _messages("user", question),
                    "gen_ai.output.messages": _messages("assistant", answer, finish=True),
                    "enduser.id": user,
                }
            )
        elif step.operation == "embeddings":
            name, kind = "embeddings text-embedding-3-small", "client"
            attributes.update(
                {
                    "gen_ai.operation.name": "embeddings",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "text-embedding-3-small",
                    "gen_ai.usage.input_tokens": _tokens(question, rng, 0),
                    "db.system.name": "postgresql",
                    "retrieval.documents": rng.randint(8, 24),
                }
            )
        elif step.name == "rerank":
            attributes.update({"rerank.model": "bge-reranker-v2", "rerank.top_k": 5})
        span = _SpanPlan(_hex(rng, 64), parent, name, kind, start, start + duration, attributes)
        if step.name == "validate" and rng.random() < 0.08:
            span.status_code = "error"
            span.status_message = 'column "seen_at" does not exist'
            span.events.append(
                (
                    start + duration // 2,
                    "exception",
                    {
                        "exception.type": "UndefinedColumn",
                        "exception.message": span.status_message,
                    },
                )
            )
        return span

    # --- feedback

    def _metadata(self, user: str) -> dict[str, Any]:
        return {"plan": self.user_plan[user], "client": self.user_client[user]}

    def _add(self, raw: dict[str, Any], at: int) -> None:
        self.plan.feedback.append(
            _FeedbackPlan(raw, min(at, -1_000_000), self.rng.randint(40, 400) * 1000)
        )

    def _target(self, trace: _TracePlan) -> dict[str, Any]:
        return {"trace_id": trace.trace_id, "span_id": trace.answer.span_id}

    def _feedback(self, number: int, trace: _TracePlan) -> None:
        rng = self.rng
        capability = trace.capability
        prefix = f"demo-t{number:03d}"
        satisfaction = (
            capability.satisfaction_after_release
            if trace.after_release
            else capability.satisfaction
        )
        rated = rng.random() < 0.7
        # the rated answers hit each capability's satisfaction exactly (error diffusion), so
        # the story shows through 300 traces; the rest are drawn at random
        happy = (
            self._quota(capability, trace.after_release) if rated else rng.random() < satisfaction
        )
        seen = trace.end + rng.randint(3, 120) * 1_000_000
        if rated:
            self._thumb(f"{prefix}-quality", trace, trace.user, happy, seen)
            if not happy and rng.random() < 0.7:
                self._issue(prefix, trace, seen)
        if rng.random() < 0.12:  # a teammate in the same conversation rates the same answer
            other = rng.choice([u for u in self.users if u != trace.user])
            agrees = rng.random() < 0.7
            self._thumb(f"{prefix}-quality-2", trace, other, happy == agrees,
                        seen + rng.randint(60, 3600) * 1_000_000)  # fmt: skip
        if capability.name in ("summarize", "code-review") and rng.random() < 0.4:
            stars = rng.choice((4, 5, 5)) if happy else rng.choice((1, 2, 2, 3))
            self._add(
                {"id": f"{prefix}-stars", "name": "star-rating", **self._target(trace),
                 "value": stars, "user_id": trace.user, "metadata": self._metadata(trace.user)},
                seen + 2_000_000,
            )  # fmt: skip
        if happy and rng.random() < 0.3:
            self._signal(f"{prefix}-copy", "copy", trace, seen - rng.randint(1, 3) * 1_000_000)
        if not happy and rng.random() < 0.35:
            self._signal(f"{prefix}-regenerate", "regenerate", trace, seen + 1_000_000)
        if not happy and rng.random() < 0.25:
            self._correction(prefix, trace, seen + rng.randint(20, 200) * 1_000_000)
        if rng.random() < 0.04:
            self._add(
                {"id": f"{prefix}-text", "name": "free-text", **self._target(trace),
                 "value": rng.choice(capability.complaints if not happy else capability.praise),
                 "user_id": trace.user},
                seen + 5_000_000,
            )  # fmt: skip
        if capability.name == "code-review" and rng.random() < 0.35:
            self._review(prefix, trace, happy, seen + 30_000_000)
        if capability.name in ("support-agent", "search") and rng.random() < 0.45:
            self._judge(prefix, trace, happy, trace.end + rng.randint(50, 70) * _MINUTE)
        if not happy and rng.random() < 0.22:
            self._annotation(prefix, trace, trace.end + rng.randint(4, 30) * _HOUR)

    def _quota(self, capability: _Capability, after_release: bool) -> bool:
        """Whether the next rated answer is good, keeping ups/rated at the capability's rate."""
        rate = capability.satisfaction_after_release if after_release else capability.satisfaction
        rated, ups = self.rated.get((capability.name, after_release), (0, 0))
        happy = int(rate * (rated + 1) + 0.5) > ups
        self.rated[capability.name, after_release] = (rated + 1, ups + happy)
        return happy

    def _thumb(self, event_id: str, trace: _TracePlan, user: str, up: bool, at: int) -> None:
        rng = self.rng
        raw: dict[str, Any] = {
            "id": event_id,
            "name": "response-quality",
            **self._target(trace),
            "kind": "thumb",
            "value": 1 if up else -1,
            "user_id": user,
            "metadata": self._metadata(user),
        }
        if not up:
            raw["tags"] = ["thumbs-down"]
            if rng.random() < 0.6:
                raw["comment"] = rng.choice(trace.capability.complaints)
            if rng.random() < 0.1:
                raw["tags"].append("escalated")
        elif rng.random() < 0.15:
            raw["comment"] = rng.choice(trace.capability.praise)
        self._add(raw, at)

    def _issue(self, prefix: str, trace: _TracePlan, at: int) -> None:
        issues = trace.capability.issues
        if trace.after_release and trace.capability.name == "support-agent":
            weights = [6, 1, 2, 1]  # the smaller model makes things up
        else:
            weights = [4, 3, 2, 1]
        self._add(
            {"id": f"{prefix}-issue", "name": "issue-category", **self._target(trace),
             "value": self.rng.choices(issues, weights=weights)[0], "user_id": trace.user},
            at + 4_000_000,
        )  # fmt: skip

    def _signal(self, event_id: str, name: str, trace: _TracePlan, at: int) -> None:
        self._add(
            {"id": event_id, "name": name, **self._target(trace), "user_id": trace.user,
             "metadata": {"client": self.user_client[trace.user]}},
            at,
        )  # fmt: skip

    def _correction(self, prefix: str, trace: _TracePlan, at: int) -> None:
        capability = trace.capability
        answer = json.loads(trace.answer.attributes.get("gen_ai.output.messages", "[]") or "[]")
        said = answer[0]["parts"][0]["content"] if answer else ""
        if capability.name == "sql-assistant":
            wanted = said.replace("seen_at", "last_seen_at").replace("sum(amount)", "sum(total)")
            wanted = wanted if wanted != said else said + " -- fixed join"
        else:
            wanted = said.split(";")[0].split(".")[0] + "."
        self._add(
            {
                "id": f"{prefix}-edit",
                "name": "user_edit",
                **self._target(trace),
                "kind": "correction",
                "value": wanted,
                "expected": wanted,
                "signal_type": "edit",
                "user_id": trace.user,
                "comment": "edited before using it",
            },
            at,
        )

    def _review(self, prefix: str, trace: _TracePlan, happy: bool, at: int) -> None:
        rng = self.rng
        self._add(
            {
                "id": f"{prefix}-review",
                "name": "review",
                **self._target(trace),
                "value": {
                    "accuracy": {
                        "score": rng.randint(4, 5) if happy else rng.randint(1, 3),
                        "false_positives": 0 if happy else rng.randint(1, 3),
                    },
                    "helpful": happy,
                    "suggestions": [
                        {"file": rng.choice(("api.py", "export.ts", "settings.tsx")),
                         "accepted": happy or rng.random() < 0.3}
                        for _ in range(rng.randint(1, 3))
                    ],
                },
                "user_id": trace.user,
            },
            at,
        )  # fmt: skip

    def _judge(self, prefix: str, trace: _TracePlan, happy: bool, at: int) -> None:
        rng = self.rng
        low, high = (0.72, 0.99) if happy else (0.15, 0.7)
        scores = {
            "faithfulness": round(rng.uniform(low, high), 3),
            "relevance": round(rng.uniform(min(1.0, low + 0.05), high), 3),
            "completeness": round(rng.uniform(low - 0.1, high), 3),
        }
        self._add(
            {
                "id": f"{prefix}-judge",
                "name": "llm-judge",
                **self._target(trace),
                "kind": "number",
                "value": round(sum(scores.values()) / len(scores), 3),
                "scores": scores,
                "source": "evaluator",
                "signal_type": "agent",
                "comment": "grounded in the retrieved documents"
                if happy
                else "claims not supported by the retrieved documents",
                "metadata": {"judge_model": "gpt-4.1", "evaluator": "faithfulness-v3"},
            },
            at,
        )

    def _annotation(self, prefix: str, trace: _TracePlan, at: int) -> None:
        rng = self.rng
        cause = rng.choice(ROOT_CAUSES)
        if trace.after_release and trace.capability.name == "support-agent":
            cause = rng.choice(("model-error", "model-error", "prompt-issue"))
        self._add(
            {
                "id": f"{prefix}-root-cause",
                "name": "root-cause",
                **self._target(trace),
                "value": cause,
                "source": "annotator",
                "user_id": rng.choice(REVIEWERS),
                "comment": f"reviewed: {cause.replace('-', ' ')}",
                "tags": ["reviewed"],
            },
            at,
        )

    def _revisions(self) -> None:
        """A few users change their vote: the same id again with a new value."""
        ups = [
            f for f in self.plan.feedback
            if f.raw["name"] == "response-quality" and f.raw["value"] == 1
            and f.at < -2 * _HOUR
        ]  # fmt: skip
        for original in ups[5::40][:4]:
            raw = dict(original.raw)
            raw.update(value=-1, comment="Changed my mind: the steps don't work.")
            raw["tags"] = ["thumbs-down"]
            self._add(raw, original.at + self.rng.randint(2, 30) * _MINUTE)
            self.plan.revised_ids.add(raw["id"])

    def _pending(self) -> None:
        """Feedback from a mobile app whose traces were never exported."""
        rng = self.rng
        for number in range(4):
            capability = rng.choice(CAPABILITIES)
            trace = self._trace(capability, rng.choice(self.users), f"demo-mobile-{number}",
                                -rng.randint(_HOUR, 3 * _DAY))  # fmt: skip
            trace.stored = False
            event_id = f"demo-mobile-{number}-quality"
            self._thumb(event_id, trace, trace.user, rng.random() < 0.5,
                        trace.end + 10_000_000)  # fmt: skip
            # the mobile SDK sends the links it knows, so the event is grouped while it waits
            self.plan.feedback[-1].raw.update(
                capability=capability.name, step=trace.answer.attributes["plaudit.step"]
            )
            self.plan.pending_ids.add(event_id)


@functools.cache
def _plan() -> _Plan:
    """The demo, drawn once per process (it never changes)."""
    return _Planner().build()


# ---------------------------------------------------------------------------------------------
# Writing it


_RESOURCE_BEFORE: Final = {
    "service.name": "acme-assistant",
    "service.version": "1.7.3",
    "deployment.environment.name": "production",
    "telemetry.sdk.language": "python",
}
_RESOURCE_AFTER: Final = {**_RESOURCE_BEFORE, "service.version": "1.8.0"}
_SCOPE: Final = {"name": "acme.assistant", "version": "1.8.0"}


def _records(trace: _TracePlan, anchor: int) -> list[SpanRecord]:
    resource = _RESOURCE_AFTER if trace.after_release else _RESOURCE_BEFORE
    return [
        SpanRecord.build(
            trace_id=trace.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            name=span.name,
            kind=span.kind,
            start_time_ns=(anchor + span.start) * 1000,
            end_time_ns=(anchor + span.end) * 1000,
            status_code=span.status_code,
            status_message=span.status_message,
            attributes=dict(span.attributes),
            events=[
                {"name": name, "time_unix_nano": (anchor + at) * 1000, "attributes": attrs}
                for at, name, attrs in span.events
            ],
            resource=dict(resource),
            scope=dict(_SCOPE),
        )
        for span in trace.spans
    ]


def _anchor(connection: Connection, plan: _Plan) -> int:
    """The demo's clock (µs): kept from an earlier load, else the current minute."""
    marker = plan.traces[0].spans[0]
    stored = connection.scalar(
        select(spans.c.start_time_ns).where(
            spans.c.project == PROJECT,
            spans.c.trace_id == plan.traces[0].trace_id,
            spans.c.span_id == marker.span_id,
        )
    )
    if stored is not None:
        return int(stored) // 1000 - marker.start
    now = int(datetime.now(UTC).timestamp()) * 1_000_000
    return now - now % _MINUTE


def _configs(connection: Connection) -> dict[str, FeedbackConfig]:
    """Declare the demo's feedback names where the project has not declared them already."""
    declared = (msgspec.convert(row, FeedbackConfig) for row in list_configs(connection, PROJECT))
    existing = {config.name: config for config in declared}
    for config in CONFIGS:
        if config.name not in existing:
            put_config(connection, PROJECT, config)
            existing[config.name] = config
    return existing


def _events(
    plan: _Plan, anchor: int, configs: Mapping[str, FeedbackConfig]
) -> list[tuple[FeedbackEvent, int]]:
    """The demo's events, validated as the API validates them, with their receive times."""
    now = from_micros(anchor)
    events: list[tuple[FeedbackEvent, int]] = []
    for index, item in enumerate(sorted(plan.feedback, key=lambda f: (f.at, f.raw["id"]))):
        moment = from_micros(anchor + item.at // 1000 * 1000)
        raw = {**item.raw, "timestamp": rfc3339(moment, "milliseconds")}
        result = validate_feedback(raw, pointer=f"/demo/{index}", now=now, configs=configs)
        if isinstance(result, list):
            problems = "; ".join(f"{i.pointer}: {i.message}" for i in result)
            raise ValueError(f"demo feedback {raw['id']!r} is invalid here: {problems}")
        events.append((result, anchor + item.at + item.latency))
    return events


def _already_revised(
    connection: Connection, events: Sequence[tuple[FeedbackEvent, int]], revised: set[str]
) -> set[int]:
    """Positions of first versions whose revision is already stored (so a reload is a no-op)."""
    final = {event.id: event.content_hash for event, _ in events if event.id in revised}
    query = select(feedback.c.id, feedback.c.content_hash).where(
        feedback.c.project == PROJECT, feedback.c.id.in_(sorted(final))
    )
    stored: dict[str, str] = {row[0]: row[1] for row in connection.execute(query)}
    skip: set[int] = set()
    seen: set[str] = set()
    for position, (event, _) in reversed(list(enumerate(events))):
        if event.id not in final:
            continue
        if event.id in seen and stored.get(event.id) == final[event.id]:
            skip.add(position)
        seen.add(event.id)
    return skip


def load_demo(database_url: str) -> DemoSummary:
    """Migrate the database and load the demo project (idempotent: a second load adds nothing)."""
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
        plan = _plan()
        with engine.begin() as connection:
            take_write_lock(connection)
            anchor = _anchor(connection, plan)
            configs = _configs(connection)
            span_ops = [
                StoreSpans(PROJECT, _records(trace, anchor), from_micros(anchor + trace.received))
                for trace in plan.traces
                if trace.stored
            ]
            StoreSpans.apply_group(connection, span_ops)
            events = _events(plan, anchor, configs)
            skip = _already_revised(connection, events, plan.revised_ids)
            pii = pii_mode(connection, PROJECT)
            ops = [
                StoreFeedback(PROJECT, [event], from_micros(received), _ACTOR, pii=pii)
                for position, (event, received) in enumerate(events)
                if position not in skip
            ]
            statuses: list[Status] = [
                status for result in StoreFeedback.apply_group(connection, ops) for status in result
            ]
    finally:
        engine.dispose()
    summary = DemoSummary(
        project=PROJECT,
        traces=sum(1 for t in plan.traces if t.stored),
        spans=sum(len(op.records) for op in span_ops),
        feedback=len({event.id for event, _ in events}),
        created=statuses.count("created"),
        duplicate=statuses.count("duplicate") + len(skip),
        revised=statuses.count("revised"),
        pending=len(plan.pending_ids),
        anchor=from_micros(anchor),
    )
    log.info("%s", summary)
    return summary
