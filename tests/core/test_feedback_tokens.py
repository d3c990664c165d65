"""Per-span feedback tokens: signing, expiry to the second, and what claims allow."""

from datetime import UTC, datetime, timedelta

import pytest

from plaudit.core.feedback_tokens import (
    BadSignature,
    FeedbackTokenClaims,
    MalformedToken,
    SigningKey,
    TokenExpired,
    claims_problem,
    fill_from_claims,
    key_id_of,
    mint,
    new_claims,
    new_signing_key,
    parse_signing_key,
    verify,
)

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def key() -> SigningKey:
    key_id, text = new_signing_key()
    parsed_id, secret = parse_signing_key(text)
    assert parsed_id == key_id
    return SigningKey(key_id, secret, "shop")


def claims(**changes: object) -> FeedbackTokenClaims:
    options: dict[str, object] = {"ttl_seconds": 60, "now": NOW} | changes
    return new_claims("shop", TRACE, SPAN, **options)  # type: ignore[arg-type]


def test_a_minted_token_verifies_to_its_claims(key: SigningKey) -> None:
    wanted = claims(names=["quality"], user_id="u-1")
    token = mint(key.key_id, key.secret, wanted)
    assert token.startswith("pft_") and key_id_of(token) == key.key_id
    got = verify(token, {key.key_id: key}.get, NOW)
    assert (got.project, got.trace_id, got.span_id) == ("shop", TRACE, SPAN)
    assert got.names == ["quality"] and got.user_id == "u-1"
    assert got.expires_at == NOW + timedelta(seconds=60)


def test_expiry_is_exact_to_the_second(key: SigningKey) -> None:
    token = mint(key.key_id, key.secret, claims(ttl_seconds=1))
    verify(token, {key.key_id: key}.get, NOW + timedelta(milliseconds=999))
    with pytest.raises(TokenExpired, match="expired at 2026-11-28T12:00:01"):
        verify(token, {key.key_id: key}.get, NOW + timedelta(seconds=1))


def test_tampering_unknown_keys_and_garbage_are_refused_with_a_reason(key: SigningKey) -> None:
    token = mint(key.key_id, key.secret, claims())
    other = mint(key.key_id, b"another secret entirely", claims())
    lookup = {key.key_id: key}.get
    payload, signature = token.split(".")
    forged = mint(key.key_id, key.secret, claims(ttl_seconds=3600)).split(".")[0]
    with pytest.raises(BadSignature, match="altered"):
        verify(f"{forged}.{signature}", lookup, NOW)
    with pytest.raises(BadSignature, match="altered"):
        verify(other, lookup, NOW)
    with pytest.raises(BadSignature, match="unknown or was revoked"):
        verify(token, lambda _: None, NOW)
    with pytest.raises(BadSignature, match="project"):
        verify(token, lambda k: SigningKey(k, key.secret, "elsewhere"), NOW)
    for garbage in ("pft_", "pft_abc", f"{payload}", "pft_!!!.sig", "sk_x.y"):
        with pytest.raises(MalformedToken):
            verify(garbage, lookup, NOW)


@pytest.mark.parametrize(
    "bad",
    [
        {"ttl_seconds": 0.5},
        {"ttl_seconds": 31 * 24 * 3600},
        {"names": [""]},
    ],
)
def test_claims_are_checked_when_made(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        claims(**bad)
    with pytest.raises(ValueError, match="span_id"):
        new_claims("shop", TRACE, "0" * 16)


def test_claims_problem_says_what_is_not_allowed() -> None:
    bound = claims(names=["quality"], user_id="u-1")
    assert claims_problem(bound, {"name": "quality"}) is None
    assert claims_problem(bound, {"name": "quality", "span_id": SPAN.upper()}) is None
    assert (
        claims_problem(bound, {"name": "quality", "traceparent": f"00-{TRACE}-{SPAN}-01"}) is None
    )
    assert "span" in str(claims_problem(bound, {"name": "quality", "span_id": "1" * 16}))
    assert "trace" in str(claims_problem(bound, {"name": "quality", "trace_id": "1" * 32}))
    assert "names" in str(claims_problem(bound, {"name": "stars"}))
    assert "user" in str(claims_problem(bound, {"name": "quality", "user_id": "u-2"}))
    assert "project" in str(claims_problem(bound, {"name": "quality", "project": "other"}))
    assert claims_problem(claims(), {"name": "anything", "user_id": "anyone"}) is None


def test_fill_from_claims_targets_the_tokens_span_and_user() -> None:
    item = fill_from_claims(claims(user_id="u-1"), {"name": "quality"})
    assert item == {"name": "quality", "trace_id": TRACE, "span_id": SPAN, "user_id": "u-1"}


def test_null_targets_count_as_missing_and_other_targets_are_refused() -> None:
    bound = claims()
    victim = {"name": "quality", "span_id": None, "conversation_id": "victim"}
    assert "conversation" in str(claims_problem(bound, victim))
    assert "response_id" in str(claims_problem(bound, {"name": "q", "response_id": "chatcmpl-1"}))
    nulls = {"name": "q", "span_id": None, "trace_id": None, "traceparent": None,
             "conversation_id": None, "response_id": None, "user_id": None}  # fmt: skip
    assert claims_problem(bound, nulls) is None
    assert fill_from_claims(bound, nulls) == {"name": "q", "trace_id": TRACE, "span_id": SPAN}


def test_a_token_naming_a_conversation_allows_and_fills_that_one(key: SigningKey) -> None:
    token = mint(key.key_id, key.secret, claims(conversation_id="conv-1"))
    bound = verify(token, lambda _: key, NOW)
    assert bound.conversation_id == "conv-1"
    assert claims_problem(bound, {"name": "q", "conversation_id": "conv-1"}) is None
    assert "conv-1" in str(claims_problem(bound, {"name": "q", "conversation_id": "conv-2"}))
    assert fill_from_claims(bound, {"name": "q"})["conversation_id"] == "conv-1"
