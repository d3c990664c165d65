"""Base64url without padding (RFC 4648 §5): how feedback tokens, console session cookies and
listing cursors carry bytes in URLs, headers and cookies."""

import base64


def encode(data: bytes) -> str:
    """`data` as base64url text, without `=` padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode(text: str) -> bytes:
    """The bytes of base64url text with or without padding; ValueError (binascii.Error is one)
    if it is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
