"""The export's `RawEvent` and the listing's `row_to_event` write an event's fields alike."""

from plaudit.store.feedback import EVENT_FIELDS, RawEvent


def test_raw_events_hold_the_api_fields_in_the_api_order() -> None:
    # msgspec writes a struct's fields in declaration order: the NDJSON lines follow it.
    assert RawEvent.__struct_fields__ == EVENT_FIELDS
