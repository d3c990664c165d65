"""Enrichment merges: later facts are added to earlier ones, never erase them."""

from typing import Any


def deep_merge(base: dict[str, Any] | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    """`extra` merged into a copy of `base`: nested objects merge key by key; other values
    at the same key take the newer value; keys only in `base` are kept."""
    merged = dict(base or {})
    for key, value in (extra or {}).items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def merge_tags(base: list[str] | None, extra: list[str] | None) -> list[str]:
    """The sorted union of two tag lists."""
    return sorted(set(base or ()) | set(extra or ()))
