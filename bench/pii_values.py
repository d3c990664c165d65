"""What PII and its look-alikes look like: random makers of values for bench/pii_corpus.py.

A maker takes a seeded `random.Random` and writes one value: a phone number in one format, a
card number of one network, an order number, a Chrome version… Card numbers get a Luhn digit
computed here and IBANs their ISO 13616 check digits; phone numbers are drawn from ranges their
countries use (checked against their numbering plans). In a maker's output, ⟦ and ⟧ mark the part
that is the PII ("password=⟦Hunter2024!⟧"); without them, the whole output is.

Three tables: POSITIVE_MAKERS (by PiiType value), DECOY_MAKERS (look-alikes, by category) and
LIMIT_MAKERS (what the detector leaves out on purpose, by limit). Standard library only.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Callable, Sequence

Maker = Callable[[random.Random], str]

OPEN, CLOSE = "⟦", "⟧"

# --- random pieces --------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits
_HEX = "0123456789abcdef"
_B64URL = _ALNUM + "-_"


def _draw(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _digits(rng: random.Random, length: int) -> str:
    return _draw(rng, string.digits, length)


def _token(rng: random.Random, length: int) -> str:
    """Random letters of both cases and digits, with at least one digit (as real keys have)."""
    body = _draw(rng, _ALNUM, length - 1)
    at = rng.randrange(length)
    return body[:at] + rng.choice(string.digits) + body[at:]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _grouped(value: str, sizes: Sequence[int], separator: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(value[at : at + size])
        at += size
    return separator.join(parts)


# --- checksums, computed here rather than taken from the detector ------------------------


def luhn_digit(payload: str) -> str:
    """The digit that makes `payload` + digit pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:  # doubled: these sit at odd positions once the check digit follows
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616: 98 minus (BBAN + country + "00", letters as 10-35) mod 97, on two digits."""
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def _other_digit(rng: random.Random, digit: str) -> str:
    return rng.choice([d for d in string.digits if d != digit])


# --- emails -----------------------------------------------------------------------------

_FIRST = ("ana", "bob", "chen", "dmitri", "fatima", "liwei", "olu", "priya", "sofia", "tom",
          "yuki", "zoe", "maria", "ahmed", "jonas", "ines")  # fmt: skip
_LAST = ("lopez", "smith", "wang", "ivanov", "khan", "zhang", "adeyemi", "patel", "rossi",
         "brown", "sato", "martin", "garcia", "hassan", "berg", "costa")  # fmt: skip
_DOMAINS = ("example.com", "mail.example.org", "example.co.uk", "uni-example.edu", "example.io",
            "corp.example.net", "example.de", "post.example.fr")  # fmt: skip


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def _email_dotted(rng: random.Random) -> str:
    first, last = _name(rng)
    return f"{first}.{last}@{rng.choice(_DOMAINS)}"


def _email_subaddress(rng: random.Random) -> str:
    first, last = _name(rng)
    tag = rng.choice(("feedback", "receipts", "shop-2026", "ai", "news"))
    return f"{first}{last[0]}+{tag}@{rng.choice(_DOMAINS)}"


def _email_underscore_digits(rng: random.Random) -> str:
    first, last = _name(rng)
    return f"{first}_{last}{rng.randrange(1, 99)}@{rng.choice(_DOMAINS)}"


def _email_capitals(rng: random.Random) -> str:
    first, last = _name(rng)
    return f"{first.title()}.{last.title()}@{rng.choice(_DOMAINS).title()}"


def _email_in_brackets(rng: random.Random) -> str:
    first, last = _name(rng)
    return f"{first.title()} {last.title()} <{OPEN}{first}@{rng.choice(_DOMAINS)}{CLOSE}>"


def _email_mailto(rng: random.Random) -> str:
    return f"mailto:{OPEN}{rng.choice(_FIRST)}.{rng.choice(_LAST)}@example.com{CLOSE}"


# --- phone numbers ----------------------------------------------------------------------

_US_AREAS = ("201", "202", "212", "213", "305", "312", "347", "404", "415", "503", "512", "617",
             "646", "702", "718", "773", "206", "303", "614", "919")  # fmt: skip


def _us_parts(rng: random.Random) -> tuple[str, str, str]:
    exchange = f"{rng.randrange(2, 10)}{_digits(rng, 2)}"
    if exchange[1:] == "11":  # N11 codes (411, 911) are services, not exchanges
        exchange = exchange[0] + "23"
    return rng.choice(_US_AREAS), exchange, _digits(rng, 4)


def _phone_us(template: str) -> Maker:
    def make(rng: random.Random) -> str:
        area, exchange, line = _us_parts(rng)
        return template.format(a=area, e=exchange, n=line)

    return make


def _phone_toll_free(rng: random.Random) -> str:
    _, exchange, line = _us_parts(rng)
    return f"1-{rng.choice(('800', '888', '877'))}-{exchange}-{line}"


def _phone_international(template: str) -> Maker:
    """`template` with each `#` replaced by a random digit, each `[...]` by one of its digits."""

    def make(rng: random.Random) -> str:
        return re.sub(r"#|\[(\d+)\]", lambda m: rng.choice(m[1] or string.digits), template)

    return make


# Country codes with number ranges in use (mobile and big-city fixed lines, checked against the
# national numbering plans), in the punctuation people use for each.
_INTERNATIONAL = (
    "+44 20 7### ####", "+44 7[459]## ######", "+447[4589]########", "+44 (0)20 3### ####",
    "(+44) 7[789]## ###-###", "+49 30 ########", "+49 171 #######", "+49-151-########",
    "+49 (0)30 #######", "+33 6 [124578]# ## ## ##", "+33 1 ## ## ## ##", "+337[56789]#######",
    "+33.6.[124578]#.##.##.##", "+34 6## ### ###", "+34 91 ### ## ##", "+39 34# ### ####",
    "+39 06 #### ####", "+31 6 [12345]### ####", "+61 4[01]# ### ###", "+61 2 [89]### ####",
    "+91 9#### #####", "+91-98###-#####", "+81 90-[123456789]###-####", "+81 3-[3456]###-####",
    "+55 11 9####-####", "+353 87 ### ####", "+46 70 ### ## ##", "tel:+1415[23456789]######",
)  # fmt: skip


# --- card numbers -----------------------------------------------------------------------

# (prefixes, length, grouping) for the major networks.
_CARD_SCHEMES = (
    (("4",), 16, (4, 4, 4, 4)),  # Visa
    (("4",), 13, (13,)),  # Visa, old 13 digits
    (("51", "52", "53", "54", "55", "2221", "2500", "2720"), 16, (4, 4, 4, 4)),  # Mastercard
    (("34", "37"), 15, (4, 6, 5)),  # American Express
    (("6011", "65", "644"), 16, (4, 4, 4, 4)),  # Discover
    (("3528", "3566", "3589"), 16, (4, 4, 4, 4)),  # JCB
    (("36", "38"), 14, (4, 6, 4)),  # Diners Club
    (("4", "6011"), 19, (4, 4, 4, 4, 3)),  # 19-digit Visa and Discover
)


def card_number(rng: random.Random, scheme: int) -> tuple[str, tuple[int, ...]]:
    """A number passing Luhn for `_CARD_SCHEMES[scheme]`, and its printed grouping."""
    prefixes, length, groups = _CARD_SCHEMES[scheme % len(_CARD_SCHEMES)]
    prefix = rng.choice(prefixes)
    payload = prefix + _digits(rng, length - len(prefix) - 1)
    return payload + luhn_digit(payload), groups


def _card(separator: str | None) -> Maker:
    """Grouped with `separator`, or run together when None."""

    def make(rng: random.Random) -> str:
        number, groups = card_number(rng, rng.randrange(len(_CARD_SCHEMES)))
        return number if separator is None else _grouped(number, groups, separator)

    return make


# --- IBANs ------------------------------------------------------------------------------

# BBAN layouts (n: digit, a: capital letter, c: either), from the ISO 13616 registry.
_BBANS = {
    "DE": "n" * 18, "GB": "aaaa" + "n" * 14, "FR": "n" * 10 + "c" * 11 + "nn",
    "ES": "n" * 20, "IT": "a" + "n" * 10 + "c" * 12, "NL": "aaaa" + "n" * 10, "BE": "n" * 12,
    "CH": "n" * 5 + "c" * 12, "AT": "n" * 16, "PL": "n" * 24, "SE": "n" * 20,
    "IE": "aaaa" + "n" * 14, "PT": "n" * 21, "NO": "n" * 11, "DK": "n" * 14, "FI": "n" * 14,
    "LU": "nnn" + "c" * 13,
}  # fmt: skip


def _bban_char(rng: random.Random, layout: str) -> str:
    if layout == "n" or (layout == "c" and rng.random() < 0.8):  # "c" fields are mostly digits
        return rng.choice(string.digits)
    return rng.choice(string.ascii_uppercase)


def iban(rng: random.Random, country: str) -> str:
    """A compact IBAN of `country` with computed check digits."""
    bban = "".join(_bban_char(rng, layout) for layout in _BBANS[country])
    return country + iban_check_digits(country, bban) + bban


def _printed(compact: str) -> str:
    return " ".join(compact[at : at + 4] for at in range(0, len(compact), 4))


def _iban(printed: bool) -> Maker:
    def make(rng: random.Random) -> str:
        value = iban(rng, rng.choice(sorted(_BBANS)))
        return _printed(value) if printed else value

    return make


# --- national ids -----------------------------------------------------------------------


def _ssn(separator: str) -> Maker:
    def make(rng: random.Random) -> str:
        area = rng.choice([n for n in range(1, 900) if n != 666])
        group, serial = rng.randrange(1, 100), rng.randrange(1, 10_000)
        return f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"

    return make


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NINO_UNISSUED = ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")


def _nino(spaced: bool) -> Maker:
    def make(rng: random.Random) -> str:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        while prefix in _NINO_UNISSUED:
            prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        digits, suffix = _digits(rng, 6), rng.choice("ABCD")
        if spaced:
            return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
        return f"{prefix}{digits}{suffix}"

    return make


# --- IP addresses -----------------------------------------------------------------------


def _public_ipv4(rng: random.Random) -> str:
    first = rng.choice([n for n in range(1, 224) if n not in (10, 127, 169)])
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _private_ipv4(rng: random.Random) -> str:
    return rng.choice(
        (
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        )
    )


def _ipv4_with_port(rng: random.Random) -> str:
    return f"{OPEN}{_public_ipv4(rng)}{CLOSE}:{rng.choice((443, 8080, 5432, 22))}"


def _ipv4_in_url(rng: random.Random) -> str:
    return f"http://{OPEN}{_public_ipv4(rng)}{CLOSE}/admin/login"


def _hextet(rng: random.Random) -> str:
    return f"{rng.randrange(1, 0x10000):x}"


def _ipv6_full(rng: random.Random) -> str:
    return ":".join([rng.choice(("2001", "2a02", "2600", "2406"))] + [
        f"{rng.randrange(0x10000):04x}" for _ in range(7)
    ])  # fmt: skip


def _ipv6_compressed(rng: random.Random) -> str:
    head = [rng.choice(("2001:db8", "2a00:1450", "2607:f8b0", "2a01:4f8"))]
    head += [_hextet(rng) for _ in range(rng.randrange(1, 3))]
    return ":".join(head) + "::" + _hextet(rng)


def _ipv6_mapped(rng: random.Random) -> str:
    return f"::ffff:{_public_ipv4(rng)}"


def _ipv6_bracketed(rng: random.Random) -> str:
    return f"[{OPEN}{_ipv6_compressed(rng)}{CLOSE}]:{rng.choice((443, 8443))}"


# --- secrets ----------------------------------------------------------------------------


def _prefixed(prefix: str, length: int, alphabet: str = _ALNUM) -> Maker:
    def make(rng: random.Random) -> str:
        if alphabet == _ALNUM:
            return prefix + _token(rng, length)
        return prefix + _draw(rng, alphabet, length)

    return make


def _slack_token(rng: random.Random) -> str:
    kind = rng.choice("bp")
    return f"xox{kind}-{_digits(rng, 12)}-{_digits(rng, 13)}-{_token(rng, 24)}"


def _github_pat(rng: random.Random) -> str:
    return f"github_pat_11{_draw(rng, _UPPER_DIGITS, 20)}_{_token(rng, 59)}"


def _jwt(rng: random.Random) -> str:
    header = {"alg": rng.choice(("HS256", "RS256")), "typ": "JWT"}
    first, last = _name(rng)
    claims = {"sub": _digits(rng, 8), "name": f"{first} {last}", "iat": 1_770_000_000}
    parts = [_b64url(json.dumps(part).encode()) for part in (header, claims)]
    signature = _b64url(rng.randbytes(32))
    return ".".join([*parts, signature])


def _key_block(rng: random.Random) -> str:
    kind = rng.choice(("RSA ", "EC ", "OPENSSH ", ""))
    body = "\n".join(base64.b64encode(rng.randbytes(48)).decode() for _ in range(3))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


def _plaudit_signing_key(rng: random.Random) -> str:
    return f"psk_{_draw(rng, _HEX, 12)}_{_token(rng, 32)}"


def _plaudit_feedback_token(rng: random.Random) -> str:
    return f"pft_{_b64url(rng.randbytes(30))}.{_b64url(rng.randbytes(32))}"


def _password(rng: random.Random) -> str:
    words = ("Summer", "Winter", "Falcon", "Sunflower", "Dragon", "Monkey", "Orange", "Purple")
    return f"{rng.choice(words)}{rng.randrange(10, 2030)}{rng.choice('!#$%*?.')}"


def _labelled(template: str, value: Maker) -> Maker:
    """`template`'s `{}` replaced by the marked value: only the value is the secret."""

    def make(rng: random.Random) -> str:
        return template.format(OPEN + value(rng) + CLOSE)

    return make


_SECRET_MAKERS: tuple[Maker, ...] = (
    _prefixed("sk-proj-", 48, _B64URL),
    _prefixed("sk-ant-api03-", 40, _B64URL),
    _prefixed("sk-", 48),
    _prefixed("sk_live_", 24),
    _prefixed("sk_test_", 24),
    _prefixed("rk_live_", 24),
    _prefixed("pk_live_", 24),
    _prefixed("whsec_", 32),
    _prefixed("AKIA", 16, _UPPER_DIGITS),
    _prefixed("ghp_", 36),
    _prefixed("gho_", 36),
    _github_pat,
    _slack_token,
    _prefixed("AIza", 35, _B64URL),
    _jwt,
    _key_block,
    _plaudit_signing_key,
    _plaudit_feedback_token,
    _labelled("password={}", _password),
    _labelled("my password: {}", _password),
    _labelled('{{"password": "{}"}}', _password),
    _labelled("pwd={}", _password),
    _labelled('api_key = "{}"', lambda rng: _token(rng, 32)),
    _labelled("client_secret: {}", lambda rng: _token(rng, 24)),
    _labelled("Authorization: Bearer {}", lambda rng: _token(rng, 40)),
    _labelled("https://example.com/callback?access_token={}&state=2", lambda rng: _token(rng, 20)),
)

POSITIVE_MAKERS: dict[str, tuple[Maker, ...]] = {
    "email": (
        _email_dotted, _email_subaddress, _email_underscore_digits, _email_capitals,
        _email_in_brackets, _email_mailto,
    ),
    "phone": (
        _phone_us("({a}) {e}-{n}"), _phone_us("{a}-{e}-{n}"), _phone_us("{a}.{e}.{n}"),
        _phone_us("{a} {e} {n}"), _phone_us("+1 {a} {e} {n}"), _phone_us("+1-{a}-{e}-{n}"),
        _phone_us("+1{a}{e}{n}"), _phone_us("+1 ({a}) {e}-{n}"), _phone_us("{a}{e}{n}"),
        _phone_us(OPEN + "({a}) {e}-{n}" + CLOSE + " ext. 204"), _phone_toll_free,
        *map(_phone_international, _INTERNATIONAL),
    ),
    "card": (_card(" "), _card("-"), _card(None)),
    "iban": (_iban(printed=True), _iban(printed=False)),
    "national_id": (_ssn("-"), _ssn(" "), _nino(spaced=True), _nino(spaced=False)),
    "ip": (
        _public_ipv4, _private_ipv4, _ipv4_with_port, _ipv6_full, _ipv6_compressed,
        _ipv6_mapped, _ipv6_bracketed, _ipv4_in_url,
    ),
    "secret": _SECRET_MAKERS,
}  # fmt: skip


# --- look-alikes ------------------------------------------------------------------------


def _each_shape(pick: Callable[[random.Random, int], str], shapes: int) -> tuple[Maker, ...]:
    """A maker for each of the `shapes` forms `pick` writes (so that each form appears)."""
    return tuple((lambda rng, shape=shape: pick(rng, shape)) for shape in range(shapes))


def _fixed(*texts: str) -> tuple[Maker, ...]:
    return tuple((lambda _rng, text=text: text) for text in texts)


def _amazon_order(rng: random.Random) -> str:
    return f"order #{rng.randrange(111, 115)}-{_digits(rng, 7)}-{_digits(rng, 7)}"


def _date_time(rng: random.Random, shape: int) -> str:
    year, month, day = rng.randrange(2019, 2028), rng.randrange(1, 13), rng.randrange(1, 29)
    hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    return (
        f"{year}-{month:02d}-{day:02d}",
        f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z",
        f"{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{_digits(rng, 6)}",
        f"{day:02d}/{month:02d}/{year} {hour:02d}:{minute:02d}",
        f"{month}/{day}/{year}",
        f"{day:02d}.{month:02d}.{year}",
        f"{year}{month:02d}{day:02d}",
        f"{hour:02d}:{minute:02d}:{second:02d}",
    )[shape]


def _version(rng: random.Random, shape: int) -> str:
    major, minor, patch = rng.randrange(1, 30), rng.randrange(0, 40), rng.randrange(0, 200)
    return (
        f"v{major}.{minor}.{patch}",
        f"{major}.{minor}.{patch}",
        f"Chrome {rng.randrange(100, 140)}.0.{rng.randrange(5000, 7000)}.{patch}",
        f"plaudit=={major}.{minor}.{patch}.{rng.randrange(10)}",
        f"build {rng.randrange(2020, 2027)}.{minor}.{patch}",
        f"iOS {rng.randrange(14, 19)}.{rng.randrange(8)}.{rng.randrange(4)}",
        f"Windows 10.0.{rng.randrange(19041, 22632)}.{rng.randrange(1000, 4000)}",
    )[shape]


def _hash(rng: random.Random, shape: int) -> str:
    return (
        f"commit {_draw(rng, _HEX, 7)}",
        f"commit {_draw(rng, _HEX, 40)}",
        f"sha256:{_draw(rng, _HEX, 64)}",
        f"md5 {_draw(rng, _HEX, 32)}",
    )[shape]


def _uuid(rng: random.Random) -> str:
    value = _draw(rng, _HEX, 32)
    value = value[:12] + rng.choice("47") + value[13:16] + rng.choice("89ab") + value[17:]
    return _grouped(value, (8, 4, 4, 4, 12), "-")


def _trace_ids(rng: random.Random, shape: int) -> str:
    trace, span = _draw(rng, _HEX, 32), _draw(rng, _HEX, 16)
    return (f"trace {trace}", f"span {span}", f"traceparent 00-{trace}-{span}-01")[shape]


def _money(rng: random.Random, shape: int) -> str:
    amount = rng.randrange(100, 100_000_000)
    units, cents = divmod(amount, 100)
    return (
        f"${units:,}.{cents:02d}",
        f"€{units:,}.{cents:02d}".replace(",", "_").replace(".", ",").replace("_", "."),
        f"USD {units}.{cents:02d}",
        f"£{units:,}",
        f"{units:,},{cents:02d} €".replace(",", " ", units >= 1000),
        f"¥{units * 10:,}",
    )[shape]


def _luhn_passes(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


def _luhn_failing_card(rng: random.Random) -> str:
    while True:
        number, groups = card_number(rng, rng.randrange(len(_CARD_SCHEMES)))
        number = number[:-1] + _other_digit(rng, number[-1])
        # Sixteen digits passing Luhn and three more (a CVV, say) are a card number: not a decoy.
        if len(number) != 19 or not _luhn_passes(number[:16]):
            return rng.choice((number, _grouped(number, groups, " ")))


def _mod97_failing_iban(rng: random.Random) -> str:
    value = iban(rng, rng.choice(sorted(_BBANS)))
    at = rng.choice([i for i, char in enumerate(value) if i >= 4 and char.isdigit()])
    value = value[:at] + _other_digit(rng, value[at]) + value[at + 1 :]  # one digit changed
    return rng.choice((value, _printed(value)))


def _unissued_ssn(rng: random.Random) -> str:
    area = rng.choice(("000", "666", f"9{_digits(rng, 2)}"))
    return rng.choice(
        (f"{area}-{_digits(rng, 2)}-{rng.randrange(1, 10_000):04d}", f"123-00-{_digits(rng, 4)}")
    )


DECOY_MAKERS: dict[str, tuple[Maker, ...]] = {
    "order number": (
        _amazon_order,
        lambda rng: f"order #{_digits(rng, 7)}",
        lambda rng: f"ORD-{rng.randrange(2020, 2027)}-{_digits(rng, 6)}",
        lambda rng: f"invoice INV-{_digits(rng, 8)}",
        lambda rng: f"order no. 00{_digits(rng, 8)}",
        lambda rng: f"ticket #{_digits(rng, 5)}",
        lambda rng: f"order #{rng.randrange(2, 10)}{_digits(rng, 9)}",
        lambda rng: f"eBay order {_digits(rng, 2)}-{_digits(rng, 5)}-{_digits(rng, 5)}",
        lambda rng: f"tracking {_grouped(_digits(rng, 12), (4, 4, 4), ' ')}",
        lambda rng: f"UPS 1Z{_draw(rng, _UPPER_DIGITS, 6)}{_digits(rng, 10)}",
    ),
    "date or time": _each_shape(_date_time, 8),
    "version": _each_shape(_version, 7),
    "hash": _each_shape(_hash, 4),
    "uuid": (_uuid,) * 3,
    "trace or span id": _each_shape(_trace_ids, 3),
    "money": _each_shape(_money, 6),
    "card failing Luhn": (_luhn_failing_card,) * 5,
    "iban failing mod-97": (_mod97_failing_iban,) * 5,
    "unissued ssn or nino": (
        _unissued_ssn, _unissued_ssn, *_fixed("QQ 12 34 56 C", "GB 12 34 56 A", "TN123456B"),
    ),
    "loopback or reserved ip": _fixed(
        "127.0.0.1", "0.0.0.0", "255.255.255.0", "224.0.0.251", "169.254.10.20", "::1",
        "fe80::1", "fe80::1ff:fe23:4567:890a", "240.1.2.3", "ff02::1",
    ),
    "code": _fixed(
        "std::vector<int>", "Foo::Bar::baz()", "a::b", "crate::db::pool::get",
        "Vec::<u8>::new()", "abc::def", "MAC 00:1A:2B:3C:4D:5E",
    ),
    "file name or handle": _fixed(
        "logo@2x.png", "icon@3x.webp", "splash@1.5x.jpg", "user@localhost",
        "@angular/core@17.0.1", "left-pad@1.3.0", "@here",
    ),
    "secret look-alike": _fixed(
        "sk-learn", "risk-free", "pk_feedback_events_project_id", "the password is required",
        "token limit: 4096 tokens", "Bearer authentication", "api_key=YOUR_API_KEY",
        "password: ********", "the ghp_ prefix", "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
    ),
    "other number": _fixed(
        "a 2 x 4 grid", "page 415-555", "step 3 of 12", "99.95% uptime", "localhost:8080",
        "HTTP 503", "ISBN 978-3-16-148410-0", "epoch 1774000000", "1,234,567 rows",
        "error code 0x80070005", "port 5432", "RFC 9110 §8.4.1.3",
    ),
}  # fmt: skip


# --- documented limits ------------------------------------------------------------------

LIMIT_MAKERS: dict[str, tuple[Maker, ...]] = {
    "phone in national form of another country": (
        _phone_international("07[459]## ######"), _phone_international("030 ########"),
        _phone_international("06 [124578]# ## ## ##"),
    ),
    "lowercase iban": (lambda rng: _printed(iban(rng, rng.choice(sorted(_BBANS)))).lower(),),
    "ipv6 with two colons": (lambda rng: f"{rng.choice(('2a00', '2600'))}::{_hextet(rng)}",),
    "ssn without separators": (_ssn(""),),
    "nino without its letter": (lambda rng: _nino(spaced=False)(rng)[:-1],),
    "password in a url": (
        _labelled("https://admin:{}@db.example.com/app", _password),
        _labelled("postgres://app:{}@db.internal:5432/app", lambda rng: _token(rng, 16)),
    ),
}  # fmt: skip
