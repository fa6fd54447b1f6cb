"""The Kafka wire format read back in Python: the product only writes it (``omniseq.schema.encode_event``); the job
reads it on the JVM (``ValidateEvents``). Tests use this decoder to check what the producer sent."""

from __future__ import annotations

import json

from omniseq.schema import OnlineEvent, SchemaError, parse_online_event


def decode_event(payload: bytes | str) -> OnlineEvent:
    """Parse a Kafka value; malformed JSON or fields raise :class:`SchemaError` (never coerced)."""
    try:
        rec = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError("online_event", "<json>", f"is not valid JSON: {exc}", payload) from exc
    return parse_online_event(rec)
