"""PII in free text: find it, redact it, or report which kinds a value holds.

Comments, text values, corrections and the strings inside `expected` are scanned before they are
stored. Each detector pairs a precompiled pattern with a check that real data passes and
look-alikes fail: Luhn for card numbers, ISO 13616 mod-97 and the country's length for IBANs, the
allocation rules for US Social Security numbers, `ipaddress` for IP addresses and libphonenumber
(`phonenumberslite`) for phone numbers. The scan runs on every comment, so false positives count
as much as misses: dates, times, version numbers, UUIDs, trace and span ids, money amounts and
numbers that fail their checksum are left alone.

Phone numbers that start with `+<country code>` are found in any region. Numbers written in
national form are read as numbers of `DEFAULT_PHONE_REGION` ("US", which also covers Canada and
the rest of the North American plan); pass `phone_region` for another country, or None to find
international numbers only.

Left out on purpose, because no pattern tells them from ordinary text: names, postal addresses,
bare 9-digit numbers as SSNs, UK NI numbers without their final letter, national ids other than
the US SSN and UK NINO, lowercase IBANs, IPv6 addresses with fewer than three colons (`fe80::1`),
loopback, link-local, multicast and reserved addresses (`127.0.0.1`, `255.255.255.0`), runs of
digits and spaces longer than 40 characters as phone numbers (lists, tables), numbers right
after `#` as phone numbers (`order #2356858515`), and secrets with neither a known prefix nor a
`password=`-style label.

A password inside a URL (`https://bob:s3cret@example.com`) is reported as part of the email
address it also looks like, `s3cret@example.com`, so it is redacted, but as an email address.

Speed: each detector runs only when the text could hold its kind (enough digits, an `@`, a key
prefix), so prose without digits is scanned in a few microseconds; libphonenumber, the slow part,
reads only short windows around runs of seven or more digits. Its work is bounded by a
`ScanBudget`: a number of candidates per text and a time per text and per request. Candidates
beyond the budget are taken as phone numbers without asking libphonenumber (redacted when the
project redacts), so a text built to be slow to scan costs a bounded time and leaks nothing.
"""

import functools
import ipaddress
import re
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NamedTuple


class PiiType(StrEnum):
    """A kind of personal or secret data; the value is what the event's `pii` list stores."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    IP = "ip"
    SECRET = "secret"  # noqa: S105 - a category name, not a secret


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of PII: its kind and where it sits (`text[start:end]`)."""

    type: PiiType
    start: int
    end: int


PLACEHOLDERS: Final[Mapping[PiiType, str]] = MappingProxyType(
    {kind: f"[{kind.name}]" for kind in PiiType}
)
DEFAULT_PHONE_REGION: Final = "US"

# When two findings overlap, the longer one wins; at equal length, the earlier kind in this list.
_PRECEDENCE: Final = {
    kind: rank
    for rank, kind in enumerate(
        (PiiType.SECRET, PiiType.CARD, PiiType.IBAN, PiiType.NATIONAL_ID, PiiType.IP,
         PiiType.EMAIL, PiiType.PHONE)
    )
}  # fmt: skip


# --- checksums --------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check used by card numbers."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# IBAN lengths from the ISO 13616 registry; codes not listed may be 15-34 characters long.
_IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_FORM: Final = re.compile(r"[A-Z]{2}(?!00|01|99)\d{2}[A-Z0-9]+", re.ASCII)


def iban_valid(iban: str) -> bool:
    """Whether `iban` (spaces and case ignored) is an IBAN: right length, and mod-97 gives 1.

    Check digits 00, 01 and 99 are never issued (01 and 99 would alias 98 and 00 under mod-97).
    """
    compact = iban.replace(" ", "").upper()
    if _IBAN_FORM.fullmatch(compact) is None:
        return False
    expected = _IBAN_LENGTHS.get(compact[:2])
    if len(compact) != expected if expected else not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# --- detectors --------------------------------------------------------------------------------
# Patterns start with a character class and check what precedes it with a lookbehind after it:
# the regex engine skips quickly to candidate characters that way, and a leading lookbehind would
# be tried at every position instead.

_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+([^\W\d_]{2,63})(?![\w-])"
)
_FILE_SUFFIXES: Final = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp"})


def _emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        if match[1].lower() not in _FILE_SUFFIXES:  # "logo@2x.png" is an image, not an address
            yield Finding(PiiType.EMAIL, match.start(), match.end())


# Card numbers, US Social Security numbers and IPv4 addresses all start with a digit that no
# letter, digit, dot or § precedes: one pattern finds the three shapes in one pass over the text.
_NUMBER_SHAPES: Final = re.compile(
    r"""
    \d (?<![\w.§].)
    (?:
        (?<![<>=!~]=.)                                  # not a version such as pkg==1.2.0.0
        (?P<ipv4> \d{0,2} (?:\.\d{1,3}){3} ) (?!\w|\.\d)
      | (?<![,-].) (?<![A-Z][A-Z]\d\d\ .)              # no comma, dash or IBAN's "DE89 " before
        (?P<card>
            \d{12,18}                                   # 13-19 digits run together,
          | \d{3} (?P<sep>[ -]) \d{4} (?P=sep) \d{4} (?P=sep) \d{4}
            (?: (?P=sep) (?P<tail>\d{1,3}) )?           # in fours (and up to three more),
          | \d{3} (?P<sep2>[ -]) \d{6} (?P=sep2) \d{4,5}  # or 4-6-5 (Amex) and 4-6-4
        ) (?![\w-]|[.,]\d)
      | (?<!-.)                                         # no dash before an SSN
        \d\d (?P<ssn_sep>[- ]) (?P<ssn_group>\d{2}) (?P=ssn_sep) (?P<ssn_serial>\d{4})
        (?![\w-]|[.,]\d)
    )
    """,
    re.ASCII | re.VERBOSE,
)


def _is_card_number(digits: str) -> bool:
    # Issuers' numbers start with 2-6; leading 0, 1 and 7-9 are mostly timestamps and ids.
    return digits[0] in "23456" and luhn_valid(digits)


def _is_ssn(area: str, group: str, serial: str) -> bool:
    # Never issued: area 000, 666 or 900-999, group 00, serial 0000.
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _numbers(text: str) -> Iterator[Finding]:
    for match in _NUMBER_SHAPES.finditer(text):
        start, end = match.span()
        if match["ipv4"] is not None:
            if _is_personal_address(match[0]):
                yield Finding(PiiType.IP, start, end)
        elif match["card"] is not None:
            digits = match[0].replace(" ", "").replace("-", "")
            if _is_card_number(digits):
                yield Finding(PiiType.CARD, start, end)
            elif match["tail"] and _is_card_number(digits[: -len(match["tail"])]):
                yield Finding(PiiType.CARD, start, match.start("tail") - 1)
        elif _is_ssn(match[0][:3], match["ssn_group"], match["ssn_serial"]):
            yield Finding(PiiType.NATIONAL_ID, start, end)


_IBAN: Final = re.compile(
    r"[A-Z](?<![A-Za-z0-9].)[A-Z]\d{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])",
    re.ASCII,
)


def _ibans(text: str) -> tuple[list[Finding], list[Finding]]:
    """The IBANs in `text`, and the spans shaped like one that fail the check (as IBAN findings).

    Digits inside a mistyped IBAN can pass for a card or phone number ("NL79 JXVE 5578 9399 44"
    holds a valid US number); the caller drops such findings.
    """
    found: list[Finding] = []
    mistyped: list[Finding] = []
    for match in _IBAN.finditer(text):
        groups = match[0].split(" ")
        # A word after a printed IBAN can look like one more group: try shorter prefixes too.
        for count in range(len(groups), 0, -1):
            if iban_valid("".join(groups[:count])):
                length = len(" ".join(groups[:count]))
                found.append(Finding(PiiType.IBAN, match.start(), match.start() + length))
                break
        else:
            mistyped.append(Finding(PiiType.IBAN, match.start(), match.end()))
    return found, mistyped


_NUMBER_KINDS: Final = frozenset({PiiType.CARD, PiiType.PHONE, PiiType.NATIONAL_ID})


def _outside(found: list[Finding], mistyped: list[Finding]) -> list[Finding]:
    """`found` without the numbers that lie in a mistyped IBAN."""
    return [
        finding
        for finding in found
        if finding.type not in _NUMBER_KINDS
        or not any(finding.start < m.end and m.start < finding.end for m in mistyped)
    ]


# UK National Insurance number: two letters (never D F I Q U V first, never D F I O Q U V second,
# nor one of the unissued pairs), six digits, and a final A-D.
_NINO: Final = re.compile(
    r"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9].)[A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
    re.ASCII,
)
_NINO_UNISSUED: Final = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_LETTERS_DIGITS: Final = re.compile(r"[A-Z][A-Z] ?\d\d", re.ASCII)  # how both of those begin


def _ninos(text: str) -> Iterator[Finding]:
    for match in _NINO.finditer(text):
        if match[0][:2] not in _NINO_UNISSUED:
            yield Finding(PiiType.NATIONAL_ID, match.start(), match.end())


_IPV6: Final = re.compile(
    r"[0-9A-Fa-f:](?<![\w:.].)[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}"
    r"(?![\w:])",
    re.ASCII,
)


def _ipv6s(text: str) -> Iterator[Finding]:
    for match in _IPV6.finditer(text):
        # Two colons alone are more often `abc::def` in code than an address.
        if match[0].count(":") >= 3 and _is_personal_address(match[0]):
            yield Finding(PiiType.IP, match.start(), match.end())


def _is_personal_address(candidate: str) -> bool:
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:203.0.113.9 is the IPv4 address inside it
    return not (
        address.is_loopback
        or address.is_unspecified
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
    )


# Seven or more digits, with the punctuation phone numbers are written with between them, and
# not the tail of a word, an id or a version ("a456-426614174000" at the end of a UUID), nor a
# number after "#", which English uses for ids ("order #2356858515", "issue #4155552671").
_PHONE_RUN: Final = re.compile(
    r"\d(?<![\w./#-].)(?:[ \t\u00a0\u2009\u202f().\[\]/~\u2010-\u2015\u2212-]*\d){6,}"
)
_PHONE_PREFIX: Final = "+(\uff08"
_NOT_PHONES: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}(?: \d{1,2})?"  # 2026-03-30 12(:00)
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?: \d{1,2})?"  # 30.03.2026, 3/30/2026
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # an IPv4 address
    # a version: dotted groups with a lone digit inside (Chrome 132.0.5935.190); numbers written
    # with dots group their digits by two or more after the first group (1.800.555.0199)
    r"|\d+(?:\.\d+)*\.\d\.\d+(?:\.\d+)*"
)
_PHONE_CONTEXT: Final = 16  # characters either side of a candidate that libphonenumber reads
_PHONE_LONGEST: Final = 40  # longer runs of digits and spaces are lists or tables, not numbers


@functools.cache
def _fewest_national_digits(region: str | None) -> int:
    """Digits in the shortest number of `region` written without its country code."""
    from phonenumbers import PhoneMetadata  # imported on first use: see _phones

    metadata = PhoneMetadata.metadata_for_region(region) if region else None
    if metadata is None or metadata.general_desc is None:
        return sys.maxsize  # no region: only numbers with a `+` country code can be found
    return max(7, min(metadata.general_desc.possible_length, default=7))


@dataclass(slots=True)
class ScanBudget:
    """How much libphonenumber work one request's texts may cost; see the module docstring.

    One budget is shared by every text of a request: each text may have `phone_checks`
    candidates read by libphonenumber within `text_seconds`, and all texts together within
    `request_seconds` (counted from the first text scanned). `clock` is injectable for tests.
    """

    phone_checks: int = 32
    text_seconds: float = 0.02
    request_seconds: float = 0.1
    clock: Callable[[], float] = time.monotonic
    _request_deadline: float | None = field(default=None, init=False)

    def text_deadline(self) -> float:
        """When the text about to be scanned must stop asking libphonenumber."""
        now = self.clock()
        if self._request_deadline is None:
            self._request_deadline = now + self.request_seconds
        return min(self._request_deadline, now + self.text_seconds)


class _PhoneCandidate(NamedTuple):
    start: int  # the run of digits itself
    end: int
    low: int  # with the text around it that libphonenumber reads
    high: int


def _phone_candidates(text: str, region: str | None) -> Iterator[_PhoneCandidate]:
    """Runs of digits that could be phone numbers, each with the text around it.

    The context stops at the next digit either way, so each window holds one candidate and no
    cut-off piece of another number (an extension after "ext." is left out with it).
    """
    for match in _PHONE_RUN.finditer(text):
        start, end = match.span()
        while start and text[start - 1] in _PHONE_PREFIX:
            start -= 1
        run = text[start:end]
        if (
            len(run) > _PHONE_LONGEST
            or _NOT_PHONES.fullmatch(run)
            or (run[0] != "+" and sum(map(str.isdigit, run)) < _fewest_national_digits(region))
        ):
            continue
        low, high = start, end
        while low > max(0, start - _PHONE_CONTEXT) and not text[low - 1].isdigit():
            low -= 1
        while high < min(len(text), end + _PHONE_CONTEXT) and not text[high].isdigit():
            high += 1
        yield _PhoneCandidate(start, end, low, high)


def _phones(text: str, region: str | None, budget: ScanBudget) -> Iterator[Finding]:
    # libphonenumber is pure Python and slow, so it reads only the windows around likely numbers,
    # and it is imported on first use: its ~70 ms import would otherwise delay every start.
    from phonenumbers import Leniency, PhoneNumberMatcher

    region = region.upper() if region else None
    deadline = budget.text_deadline()
    for checked, candidate in enumerate(_phone_candidates(text, region)):
        if checked >= budget.phone_checks or budget.clock() >= deadline:
            yield Finding(PiiType.PHONE, candidate.start, candidate.end)  # out of budget
            continue
        low, high = candidate.low, candidate.high
        for match in PhoneNumberMatcher(text[low:high], region, leniency=Leniency.VALID):
            yield Finding(PiiType.PHONE, low + match.start, low + match.end)


_NOT_ALPHANUMERIC: Final = re.compile(r"[^A-Za-z0-9]+")


def _looks_random(value: str) -> bool:
    """A digit, and either both letter cases or an unbroken 16-character letter-digit stretch."""
    if not _has_digit(value):
        return False
    mixed_case = any(char.isupper() for char in value) and any(char.islower() for char in value)
    return mixed_case or any(len(part) >= 16 for part in _NOT_ALPHANUMERIC.split(value))


def _has_digit(value: str) -> bool:
    return any(char.isdigit() for char in value)


def _is_password(value: str) -> bool:
    return _has_digit(value) and any(char.isalpha() for char in value)


class _SecretRule(NamedTuple):
    """A kind of secret, looked for only when the lowercased text holds one of `hints`.

    The secret is the pattern's group "s" when it has one, else the whole match; `check`, when
    given, must accept group "v" when there is one, else the secret.
    """

    hints: tuple[str, ...]
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


_SECRET_RULES: Final = (
    _SecretRule(
        ("-----",),
        re.compile(
            r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
    ),
    _SecretRule(
        ("eyj",), re.compile(r"(?<![\w-])eyJ[\w-]{8,}\.eyJ[\w-]{8,}(?:\.[\w-]{16,})?", re.ASCII)
    ),
    _SecretRule(
        ("akia", "asia"), re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
    ),
    _SecretRule(
        ("_",),
        re.compile(r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{40,})", re.ASCII),
    ),
    _SecretRule(("xox",), re.compile(r"(?<![\w-])xox[abeoprs]-[A-Za-z0-9-]{10,}"), _has_digit),
    _SecretRule(("aiza",), re.compile(r"(?<![\w-])AIza[\w-]{35}", re.ASCII)),
    # OpenAI and Anthropic `sk-…`, Stripe `sk_live_…`, and Plaudit's own pk_/sk_/psk_ tokens.
    _SecretRule(
        ("sk-", "_"),
        re.compile(r"(?<![\w-])(?:sk-|(?:sk|pk|rk|psk|whsec)_)(?P<v>[\w-]{20,})", re.ASCII),
        _looks_random,
    ),
    _SecretRule(("_",), re.compile(r"(?<![\w-])pft_[\w-]{16,}\.[\w-]{16,}", re.ASCII)),
    _SecretRule(
        ("bearer",),
        re.compile(r"(?i:\bbearer)\s+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)"),
        _looks_random,
    ),
    _SecretRule(
        ("authorization",),
        re.compile(r"(?i:\bauthorization)\s*[:=]\s*(?i:basic)\s+(?P<s>[A-Za-z0-9+/]{8,}={0,2})"),
    ),
    # `password=…`, `"api_key": "…"`, `client_secret: …`: the value after the label.
    _SecretRule(
        ("pass", "pwd", "secret", "token", "key"),
        re.compile(
            r"(?<![A-Za-z])(?i:password|passwd|pwd|secret|token"
            r"|(?:api|access|secret|private|client|auth)[_-]?(?:key|token|secret))"
            r"[\"']?\s*[:=]\s*[\"']?(?P<s>[^\s\"'`,;&)\]}>]{8,})"
        ),
        _is_password,
    ),
    _SecretRule(("://",), re.compile(r"(?<=://)[^\s/:@]+:(?P<s>[^\s/@]+)@")),  # user:password@
)


_SECRET_HINTS: Final = tuple(dict.fromkeys(hint for rule in _SECRET_RULES for hint in rule.hints))


def _secrets(text: str) -> Iterator[Finding]:
    lowered = text.lower()
    present = {hint for hint in _SECRET_HINTS if hint in lowered}
    for hints, pattern, check in _SECRET_RULES if present else ():
        if present.isdisjoint(hints):
            continue
        group = "s" if "s" in pattern.groupindex else 0
        checked = "v" if "v" in pattern.groupindex else group
        for match in pattern.finditer(text):
            if check is None or check(match[checked]):
                yield Finding(PiiType.SECRET, match.start(group), match.end(group))


# --- the public functions ---------------------------------------------------------------------


def find_pii(
    text: str,
    *,
    phone_region: str | None = DEFAULT_PHONE_REGION,
    budget: ScanBudget | None = None,
) -> list[Finding]:
    """The PII in `text`, ordered by start and never overlapping.

    Where two findings overlap, the longer one is kept (a key block over the numbers inside it,
    an email address over a password before its `@`); at equal length, the more specific kind.
    `phone_region` is the country whose national phone format is recognised (see the module
    docstring); numbers with a `+` country code are found whatever it is. `budget` bounds the
    phone number checks (a fresh default one when not given).
    """
    found = [*_secrets(text)]
    if "@" in text:
        found += _emails(text)
    # Skip what cannot fit: an IPv4 address has 4 digits or more, a phone number 7, and an IBAN
    # or NI number 2 (digits beyond ASCII matter only to phone numbers).
    digits = sum(map(text.count, "0123456789"))
    mistyped: list[Finding] = []
    if digits >= 2 and _LETTERS_DIGITS.search(text):
        ibans, mistyped = _ibans(text)
        found += ibans
        found += _ninos(text)
    if digits >= 4:
        found += _numbers(text)
    if "::" in text or text.count(":") >= 7:
        found += _ipv6s(text)
    if digits >= 7 or not text.isascii():
        found += _phones(text, phone_region, budget or ScanBudget())
    if mistyped:
        found = _outside(found, mistyped)
    return _without_overlaps(found) if len(found) > 1 else found


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []  # sorted by start
    starts: list[int] = []
    for finding in sorted(found, key=lambda f: (f.start - f.end, _PRECEDENCE[f.type], f.start)):
        at = bisect_left(starts, finding.start)
        if at > 0 and kept[at - 1].end > finding.start:
            continue
        if at < len(kept) and kept[at].start < finding.end:
            continue
        kept.insert(at, finding)
        starts.insert(at, finding.start)
    return kept


def redact(
    text: str,
    *,
    phone_region: str | None = DEFAULT_PHONE_REGION,
    budget: ScanBudget | None = None,
) -> tuple[str, frozenset[PiiType]]:
    """`text` with each finding replaced by its placeholder ("[EMAIL]"…), and the kinds found."""
    findings = find_pii(text, phone_region=phone_region, budget=budget)
    if not findings:
        return text, frozenset()
    parts: list[str] = []
    done = 0
    for finding in findings:
        parts += (text[done : finding.start], PLACEHOLDERS[finding.type])
        done = finding.end
    parts.append(text[done:])
    return "".join(parts), frozenset(finding.type for finding in findings)


def redact_json(
    value: Any,
    *,
    phone_region: str | None = DEFAULT_PHONE_REGION,
    budget: ScanBudget | None = None,
) -> tuple[Any, frozenset[PiiType]]:
    """A copy of a JSON value with every string (keys too) redacted, and the kinds found.

    Numbers, booleans and None are kept as they are; lists and tuples keep their kind. Two keys
    that redact alike are told apart by a suffix (`[EMAIL]`, `[EMAIL] 2`), so no value is lost.
    """
    found: set[PiiType] = set()
    shared = budget or ScanBudget()

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            redacted, kinds = redact(item, phone_region=phone_region, budget=shared)
            found.update(kinds)
            return redacted
        if isinstance(item, dict):
            copy: dict[Any, Any] = {}
            for key, inner in item.items():
                name = walk(key) if isinstance(key, str) else key
                if name in copy:
                    name = _unused(name, copy)
                copy[name] = walk(inner)
            return copy
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        if isinstance(item, tuple):
            return tuple(walk(inner) for inner in item)
        return item

    return walk(value), frozenset(found)


def scan_json(
    value: Any,
    *,
    phone_region: str | None = DEFAULT_PHONE_REGION,
    budget: ScanBudget | None = None,
) -> frozenset[PiiType]:
    """The kinds of PII in the strings of a JSON value (keys too), changing nothing."""
    shared = budget or ScanBudget()
    return frozenset(
        finding.type
        for text in _strings(value)
        for finding in find_pii(text, phone_region=phone_region, budget=shared)
    )


def _unused(name: str, taken: dict[Any, Any]) -> str:
    number = 2
    while f"{name} {number}" in taken:
        number += 1
    return f"{name} {number}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(key)
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)
