"""PII in free text (DESIGN §6): what is found and where, what is left alone, how it is redacted."""

import copy
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.core.access import Scope, new_token
from plaudit.core.feedback_tokens import new_signing_key
from plaudit.core.pii import (
    DEFAULT_PHONE_REGION,
    PLACEHOLDERS,
    Finding,
    PiiType,
    ScanBudget,
    find_pii,
    iban_valid,
    luhn_valid,
    redact,
    redact_json,
    scan_json,
)

EMAIL, PHONE, CARD, IBAN = PiiType.EMAIL, PiiType.PHONE, PiiType.CARD, PiiType.IBAN
NATIONAL_ID, IP, SECRET = PiiType.NATIONAL_ID, PiiType.IP, PiiType.SECRET

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFuYSJ9"
    ".TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ"
)
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9\nx4111111111111111ab\n"
    "-----END RSA PRIVATE KEY-----"
)

# (kind, the PII itself): each is found alone in "… {} …" with exactly its own span.
FOUND = [
    (EMAIL, "ana.lopez+feedback@example.co.uk"),
    (EMAIL, "bob@mail.example.com"),
    (EMAIL, "josé.müller@exämple.de"),
    (PHONE, "(415) 555-2671"),
    (PHONE, "415-555-2671"),
    (PHONE, "415.555.2671"),
    (PHONE, "+1 415 555 2671"),
    (PHONE, "1-800-555-0199"),
    (PHONE, "+44 20 7946 0958"),
    (PHONE, "+447911123456"),
    (PHONE, "+49 30 901820"),
    (PHONE, "+33 1 42 68 53 00"),
    (PHONE, "+33.6.12.34.56.78"),  # dotted groups of two are a phone number, not a version
    (PHONE, "1.800.555.0199"),
    (CARD, "4111 1111 1111 1111"),
    (CARD, "4111-1111-1111-1111"),
    (CARD, "4111111111111111"),
    (CARD, "5555555555554444"),
    (CARD, "2223003122003222"),
    (CARD, "3782 822463 10005"),
    (CARD, "3056 930902 5904"),
    (CARD, "4222222222222"),
    (CARD, "6011000000000000001"),
    (CARD, "6011 0000 0000 0000 001"),
    (IBAN, "DE89 3704 0044 0532 0130 00"),
    (IBAN, "DE89370400440532013000"),
    (IBAN, "GB82WEST12345698765432"),
    (IBAN, "FR14 2004 1010 0505 0001 3M02 606"),
    (IBAN, "ES91 2100 0418 4502 0005 1332"),
    (IBAN, "IT60X0542811101000000123456"),
    (IBAN, "NL91 ABNA 0417 1643 00"),
    (IBAN, "BE68 5390 0754 7034"),
    (IBAN, "CH9300762011623852957"),
    (IBAN, "XY54123456789012345"),  # a country without a known length: 15-34 characters
    (NATIONAL_ID, "123-45-6789"),
    (NATIONAL_ID, "123 45 6789"),
    (NATIONAL_ID, "AB 12 34 56 C"),
    (NATIONAL_ID, "JG103759A"),
    (IP, "203.0.113.7"),
    (IP, "10.0.0.1"),
    (IP, "2001:db8::1"),
    (IP, "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    (IP, "::ffff:203.0.113.9"),
    (SECRET, "sk-proj-AbC123dEf456GhI789jKl012mNo345"),
    (SECRET, "sk-ant-api03-Xy7Zq2Lm9Np4Rs8Tv1Wb6"),
    (SECRET, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (SECRET, "pk_live_51HqLyjWDarjtT1zdp7dcXy9"),
    (SECRET, "pk_92c123d54127_j7dq7LweDdQLoOUKuInqWDVKXqmeIli8"),  # Plaudit's own token
    (SECRET, "AKIAIOSFODNN7EXAMPLE"),
    (SECRET, "ghp_" + "a1B2c3D4e5F6" * 3),
    (SECRET, "github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"),
    (SECRET, "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    (SECRET, "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    (SECRET, JWT),
    (SECRET, PRIVATE_KEY),
]


@pytest.mark.parametrize(("kind", "pii"), FOUND, ids=[pii[:24] for _, pii in FOUND])
def test_each_kind_is_found_with_its_exact_span(kind: PiiType, pii: str) -> None:
    text = f"The answer was wrong: {pii} should not appear here."
    start = text.index(pii)
    assert find_pii(text) == [Finding(kind, start, start + len(pii))]


@pytest.mark.parametrize(("kind", "pii"), FOUND[::4], ids=[pii[:24] for _, pii in FOUND[::4]])
def test_pii_is_found_at_the_very_start_and_end_of_the_text(kind: PiiType, pii: str) -> None:
    assert find_pii(pii) == [Finding(kind, 0, len(pii))]
    assert find_pii(f"see {pii}") == [Finding(kind, 4, 4 + len(pii))]


# Secrets named by a label: only the value is the secret, the label stays readable.
LABELLED = [
    ("Authorization: Bearer {}", "abc123def456ghi789jkl"),
    ("Authorization: bearer {}", JWT),
    ("Authorization: Basic {}", "dXNlcjpwYXNz"),
    ("password={}", "Hunter2024!"),
    ("my password: {} thanks", "Summer2026"),
    ('{{"api_key": "{}"}}', "AbC123456789xyz"),
    ("aws_secret_access_key = {}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("client_secret: {}", "9f8e7d6c5b4a3210"),
    ("https://bob:{}@203.0.113.7/admin", "s3cret-pw"),
    ("[badge](https://example.com/badge.svg?token={})", "vKez4Pycrc9"),
    ("https://example.com/?access_token={}&page=2", "a1b2c3d4e5f6"),
]


@pytest.mark.parametrize(("template", "secret"), LABELLED)
def test_a_labelled_secret_is_only_its_value(template: str, secret: str) -> None:
    text = template.format(secret)
    start = text.index(secret)
    assert Finding(SECRET, start, start + len(secret)) in find_pii(text)


@pytest.mark.parametrize("attempt", range(5))
def test_plaudit_tokens_and_signing_keys_are_secrets(attempt: int) -> None:
    for scopes in ({Scope.FEEDBACK_WRITE}, {Scope.READ, Scope.TRACES_WRITE}):
        _, token = new_token(frozenset(scopes))
        assert find_pii(f"my key is {token}") == [Finding(SECRET, 10, 10 + len(token))]
    _, key = new_signing_key()
    assert find_pii(f"key {key}.") == [Finding(SECRET, 4, 4 + len(key))]


NOT_PII = [
    "The answer ignored my question and repeated itself.",
    "It should have asked a clarifying question before guessing.",
    "2026-03-30 12:00",
    "2026-03-30T12:00:00Z",
    "meeting at 12:30, or 12:30:45 at the latest",
    "30/03/2026 and 3/30/2026 and 30.03.2026",
    "version 1.2.3 then v2.10.1 and 10.4.22",
    "1.2.3.4.5",
    "request 123e4567-e89b-12d3-a456-426614174000 and 550e8400-e29b-41d4-a716-446655440000",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "trace 0af7651916cd43dd8448eb211c80319c span b7ad6b7169203331",
    "traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "it took 3 tries, 42 seconds and 2 answers",
    "order 12345678 and order 1234567",
    "order 4111111111111112 failed",  # fails Luhn
    "reference 1234567812345678",  # fails Luhn
    "ticket 1000000000000008 and 9000000000000001",  # pass Luhn, but no issuer starts with 1 or 9
    "epoch 1774000000 or 1774000000123 ms",
    "it cost $1,234,567.89, or €12.500,00, or USD 1234.56",
    "the skill for this task, ask it, risk-free, sk-learn",
    "table pk_feedback_events_project_id and pk_events_2024_01_01_partition",
    "sk-this-is-not-really-a-key-at-all",
    "Bearer authentication is used here",
    "my token: expired, the secret: unknown, token limit: 4096 tokens",
    "localhost 127.0.0.1, 0.0.0.0, netmask 255.255.255.0, ::1 and fe80::1",
    "999.1.1.1 and 1.2.3.256",
    "std::vector<int> and Foo::Bar::baz() and abc::def",
    "MAC 00:1A:2B:3C:4D:5E",
    "logo@2x.png and user@localhost",
    "QQ 12 34 56 C, GB123456A, AO123456A and AB123456E",
    "a 2 x 4 grid of 16 cells",
    "page 415-555 and room 2671",
    "-----\nA horizontal rule\n-----",
    "RFC 9110 §8.4.1.3 and pip install brotlicffi>=1.2.0.0 or foo==10.1.0.2",
    "Chrome 132.0.5935.190 and Windows 10.0.19045.3693",  # 1-320-593-5190 to libphonenumber
    "order #2356858515 and issue #4155552671",  # "#" numbers things
]


@pytest.mark.parametrize("text", NOT_PII)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == (text, frozenset())


@pytest.mark.parametrize(
    "ssn",
    ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"],
)
def test_social_security_numbers_never_issued_are_not_flagged(ssn: str) -> None:
    assert find_pii(f"ssn {ssn}") == []


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4012888888881881", True),
        ("5105105105105100", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("3530111333300000", True),
        ("30569309025904", True),
        ("0", True),
        ("4111111111111112", False),
        ("4111111111111121", False),  # two digits swapped
        ("1234567812345678", False),
        ("378282246310006", False),
        ("", False),
        ("4111 1111 1111 1111", False),  # digits only
        ("٤١١١١١١١١١١١١١١١", False),  # ASCII digits only
    ],
)
def test_luhn_check(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89370400440532013000", True),
        ("DE89 3704 0044 0532 0130 00", True),
        ("de89370400440532013000", True),
        ("GB82WEST12345698765432", True),
        ("FR1420041010050500013M02606", True),
        ("ES9121000418450200051332", True),
        ("IT60X0542811101000000123456", True),
        ("NL91ABNA0417164300", True),
        ("BE68539007547034", True),
        ("CH9300762011623852957", True),
        ("NO9386011117947", True),
        ("XY54123456789012345", True),
        ("DE89370400440532013001", False),  # one digit off
        ("DE98370400440532013000", False),  # check digits swapped
        ("GB82WEST1234569876543", False),  # one character short
        ("NL06ABNA04171643001", False),  # mod-97 holds, but NL IBANs have 18 characters
        ("XY331234567890", False),  # mod-97 holds, but shorter than any IBAN
        ("DE98004405320000000069", True),
        ("DE01004405320000000069", False),  # 01 aliases 98 under mod-97, and is never issued
        ("DE00004405320000000087", False),  # 00 aliases 97
        ("D189370400440532013000", False),
        ("", False),
    ],
)
def test_iban_check(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE89 3704 0044 0532 0130 01",
        "IBAN GB82WEST1234569876543",
        "IBAN NL06ABNA04171643001",
        "IBAN DE01004405320000000069",
        "IBAN NL79 JXVE 5578 9399 44",  # its digits are a valid US phone number
        "IBAN SE94 6775 5408 0550 1694 6643",  # its last 16 digits pass Luhn
    ],
)
def test_ibans_failing_their_check_are_not_flagged(text: str) -> None:
    assert find_pii(text) == []


def test_numbers_next_to_a_mistyped_iban_are_still_found() -> None:
    text = "IBAN NL79 JXVE 5578 9399 44, call 415-555-2671 or card 4111 1111 1111 1111"
    found = [(f.type, text[f.start : f.end]) for f in find_pii(text)]
    assert found == [(PHONE, "415-555-2671"), (CARD, "4111 1111 1111 1111")]


def test_a_printed_iban_ends_before_a_short_word_after_it() -> None:
    text = "BE68 5390 0754 7034 OK"
    assert find_pii(text) == [Finding(IBAN, 0, 19)]


def test_a_card_number_ends_before_an_expiry_date() -> None:
    for text in ("4111 1111 1111 1111 12/27", "4111 1111 1111 1111 exp 12/27"):
        assert find_pii(text) == [Finding(CARD, 0, 19)]


def test_several_kinds_in_one_text_come_in_order() -> None:
    text = (
        "Hi, I'm ana@example.com (phone 415-555-2671). Card 4111 1111 1111 1111, "
        "IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, from 203.0.113.7 "
        "with key sk_live_4eC39HqLyjWDarjtT1zdp7dc."
    )
    expected = [
        (EMAIL, "ana@example.com"),
        (PHONE, "415-555-2671"),
        (CARD, "4111 1111 1111 1111"),
        (IBAN, "DE89 3704 0044 0532 0130 00"),
        (NATIONAL_ID, "123-45-6789"),
        (IP, "203.0.113.7"),
        (SECRET, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ]
    assert find_pii(text) == [
        Finding(kind, text.index(pii), text.index(pii) + len(pii)) for kind, pii in expected
    ]


def test_overlaps_keep_the_longer_finding() -> None:
    # A key block holds a card-like number; the block wins.
    text = f"here: {PRIVATE_KEY} done"
    assert find_pii(text) == [Finding(SECRET, 6, 6 + len(PRIVATE_KEY))]
    # "Bearer <JWT>" is found twice, as a bearer token and as a JWT: one finding remains.
    text = f"Authorization: Bearer {JWT}"
    assert find_pii(text) == [Finding(SECRET, 22, len(text))]
    # The IPv4 address inside an IPv4-mapped IPv6 address.
    assert find_pii("from ::ffff:203.0.113.9") == [Finding(IP, 5, 23)]
    # A password before an "@" is also the local part of an email address, which is longer.
    text = "https://bob:s3cret@example.com/x"
    assert find_pii(text) == [Finding(EMAIL, 12, 30)]


def test_a_key_block_cut_short_is_a_secret_to_the_end() -> None:
    text = "pasted: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n(truncated"
    assert find_pii(text) == [Finding(SECRET, 8, len(text))]


def test_numbers_glued_to_words_are_not_phone_numbers() -> None:
    for text in ("x4155552671", "4155552671b", "id a456-4155552671"):
        assert find_pii(text) == []


def test_the_phone_region_reads_national_numbers() -> None:
    assert DEFAULT_PHONE_REGION == "US"
    uk = "call 07911 123456"
    assert find_pii(uk) == []
    assert find_pii(uk, phone_region="GB") == [Finding(PHONE, 5, 17)]
    assert find_pii(uk, phone_region="gb") == [Finding(PHONE, 5, 17)]
    us = "call (415) 555-2671 or +44 20 7946 0958"
    assert find_pii(us, phone_region=None) == [Finding(PHONE, 23, 39)]


def test_placeholders_are_exactly_the_documented_ones() -> None:
    assert dict(PLACEHOLDERS) == {
        EMAIL: "[EMAIL]",
        PHONE: "[PHONE]",
        CARD: "[CARD]",
        IBAN: "[IBAN]",
        NATIONAL_ID: "[NATIONAL_ID]",
        IP: "[IP]",
        SECRET: "[SECRET]",
    }
    assert [kind.value for kind in PiiType] == [
        "email",
        "phone",
        "card",
        "iban",
        "national_id",
        "ip",
        "secret",
    ]


def test_redact_replaces_each_finding_with_its_placeholder() -> None:
    text = (
        "Mail ana@example.com or call +1 415 555 2671; card 4111111111111111, "
        "IBAN GB82WEST12345698765432, NI AB 12 34 56 C, IP 2001:db8::1, "
        "token ghp_a1B2c3D4e5F6a1B2c3D4e5F6a1B2c3D4e5F6."
    )
    assert redact(text) == (
        "Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN], NI [NATIONAL_ID], IP [IP], "
        "token [SECRET].",
        frozenset(PiiType),
    )


def test_redact_keeps_labels_and_is_idempotent() -> None:
    text = "password=Hunter2024! and Authorization: Bearer abc123def456ghi789jkl"
    redacted, kinds = redact(text)
    assert redacted == "password=[SECRET] and Authorization: Bearer [SECRET]"
    assert kinds == {SECRET}
    assert redact(redacted) == (redacted, frozenset())


def test_redact_json_redacts_strings_and_keys_at_any_depth() -> None:
    value = {
        "comment": "write to ana@example.com",
        "ana@example.com": "keys are scanned too",
        "[EMAIL]": "a key already named like a placeholder",
        "expected": {"steps": ["call 415-555-2671", {"card": "4111 1111 1111 1111"}]},
        "score": 4,
        "ratio": 0.5,
        "ok": True,
        "none": None,
        "pair": ("203.0.113.7", 1),
    }
    original = copy.deepcopy(value)
    redacted, kinds = redact_json(value)
    assert redacted == {
        "comment": "write to [EMAIL]",
        "[EMAIL]": "keys are scanned too",
        "[EMAIL] 2": "a key already named like a placeholder",
        "expected": {"steps": ["call [PHONE]", {"card": "[CARD]"}]},
        "score": 4,
        "ratio": 0.5,
        "ok": True,
        "none": None,
        "pair": ("[IP]", 1),
    }
    assert kinds == {EMAIL, PHONE, CARD, IP}
    assert value == original  # a new structure; the input is unchanged
    assert redacted["expected"] is not value["expected"]


@pytest.mark.parametrize(
    ("value", "redacted", "kinds"),
    [
        ("ana@example.com", "[EMAIL]", {EMAIL}),
        (["no pii", 3], ["no pii", 3], set()),
        (42, 42, set()),
        (None, None, set()),
        ({}, {}, set()),
    ],
)
def test_redact_json_on_plain_values(value: object, redacted: object, kinds: set[PiiType]) -> None:
    assert redact_json(value) == (redacted, frozenset(kinds))


def test_scan_json_reports_kinds_and_changes_nothing() -> None:
    value = {
        "a@b.example": ["AB 12 34 56 C", {"deep": ["x", "sk-proj-AbC123dEf456GhI789jKl012"]}],
        "n": 1,
    }
    original = copy.deepcopy(value)
    assert scan_json(value) == {EMAIL, NATIONAL_ID, SECRET}
    assert value == original
    assert scan_json(value) == redact_json(value)[1]
    assert scan_json({"only keys a@b.example": 1, "text": "fine"}) == {EMAIL}
    assert scan_json({"text": "fine", "n": 3}) == frozenset()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -.:@+()/abcXYZ_\n", max_size=80))
def test_findings_are_ordered_apart_and_inside_the_text(text: str) -> None:
    findings = find_pii(text)
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert all(a.end <= b.start for a, b in pairwise(findings))


# --- the scan's budget ------------------------------------------------------------------------

INVALID_NUMBERS = "ref 1234567890, ref 1111111111 and ref 9999999999"  # no such numbers


def test_numbers_libphonenumber_rejects_are_left_within_the_budget() -> None:
    assert find_pii(INVALID_NUMBERS) == []


def test_candidates_beyond_the_per_text_cap_are_taken_as_phone_numbers() -> None:
    found = find_pii(INVALID_NUMBERS, budget=ScanBudget(phone_checks=2))
    assert [(f.type, INVALID_NUMBERS[f.start : f.end]) for f in found] == [(PHONE, "9999999999")]


def test_once_the_time_is_spent_every_candidate_is_taken_as_a_phone_number() -> None:
    ticks = iter(range(100))  # a clock that moves one second each time it is read
    budget = ScanBudget(text_seconds=1.5, request_seconds=100, clock=lambda: float(next(ticks)))
    found = find_pii(INVALID_NUMBERS, budget=budget)
    assert [INVALID_NUMBERS[f.start : f.end] for f in found] == ["1111111111", "9999999999"]


def test_one_budget_is_shared_by_every_string_of_a_request() -> None:
    now = [0.0]
    budget = ScanBudget(request_seconds=1.0, clock=lambda: now[0])
    assert redact_json(["ref 1234567890"], budget=budget) == (["ref 1234567890"], frozenset())
    now[0] = 2.0  # the request's second has gone
    assert redact_json(["ref 1234567890"], budget=budget) == (["ref [PHONE]"], frozenset({PHONE}))
