"""Every size, depth and count limit of the feedback and trace APIs, in one place.

`docs/configuration.md` lists these; errors name them, so a client that hits one knows which.
"""

from typing import Final

MAX_BATCH_EVENTS: Final = 1_000
MAX_FEEDBACK_BODY_BYTES: Final = 5 * 1024 * 1024
MAX_OTLP_BODY_BYTES: Final = 64 * 1024 * 1024

MAX_ID_CHARS: Final = 64
MAX_NAME_CHARS: Final = 128
MAX_CONVERSATION_ID_CHARS: Final = 256
MAX_RESPONSE_ID_CHARS: Final = 256
MAX_USER_ID_CHARS: Final = 256
MAX_TEXT_BYTES: Final = 16 * 1024
MAX_METADATA_BYTES: Final = 32 * 1024
MAX_JSON_FIELD_BYTES: Final = 64 * 1024
MAX_TAGS: Final = 64
MAX_SCORES: Final = 64

MAX_OBJECT_LEVELS: Final = 5
MAX_ARRAY_LEVELS: Final = 2
MAX_JSON_DEPTH: Final = 32

MAX_QUERY_GROUPS: Final = 10_000

LIMITS: Final[dict[str, int]] = {
    "batch_events": MAX_BATCH_EVENTS,
    "feedback_body_bytes": MAX_FEEDBACK_BODY_BYTES,
    "otlp_body_bytes": MAX_OTLP_BODY_BYTES,
    "id_chars": MAX_ID_CHARS,
    "name_chars": MAX_NAME_CHARS,
    "conversation_id_chars": MAX_CONVERSATION_ID_CHARS,
    "response_id_chars": MAX_RESPONSE_ID_CHARS,
    "user_id_chars": MAX_USER_ID_CHARS,
    "text_bytes": MAX_TEXT_BYTES,
    "metadata_bytes": MAX_METADATA_BYTES,
    "json_field_bytes": MAX_JSON_FIELD_BYTES,
    "tags": MAX_TAGS,
    "scores": MAX_SCORES,
    "object_levels": MAX_OBJECT_LEVELS,
    "array_levels": MAX_ARRAY_LEVELS,
    "json_depth": MAX_JSON_DEPTH,
    "query_groups": MAX_QUERY_GROUPS,
}
