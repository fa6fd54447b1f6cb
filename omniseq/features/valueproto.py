"""A wire-compatible copy of Feast's ``feast.types.Value`` protobuf, built at first use without importing ``feast``.

Importing ``feast`` costs seconds of CPU (its package ``__init__`` loads the whole SDK), too much for the
serving process and the pipeline's Python workers, which only need the Redis value codec. The message below has
the same field numbers and types as ``feast/protos/feast/types/Value.proto`` (proto3: repeated scalars packed)
for the scalar and list kinds, so bytes written by either parse in the other; ``tests/features/test_online.py``
checks that against Feast's own classes. Kinds not declared here (maps, sets, json, ...) are kept as unknown
fields and decode as None; the omniseq feature views never use them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS: tuple[tuple[str, int, int], ...] = (
    ("bytes_val", 1, _F.TYPE_BYTES),
    ("string_val", 2, _F.TYPE_STRING),
    ("int32_val", 3, _F.TYPE_INT32),
    ("int64_val", 4, _F.TYPE_INT64),
    ("double_val", 5, _F.TYPE_DOUBLE),
    ("float_val", 6, _F.TYPE_FLOAT),
    ("bool_val", 7, _F.TYPE_BOOL),
    ("unix_timestamp_val", 8, _F.TYPE_INT64),
    ("null_val", 19, _F.TYPE_INT32),  # an enum (NULL = 0) in Feast: the same varint on the wire
)
_LISTS: tuple[tuple[str, int, str, int], ...] = (
    ("bytes_list_val", 11, "BytesList", _F.TYPE_BYTES),
    ("string_list_val", 12, "StringList", _F.TYPE_STRING),
    ("int32_list_val", 13, "Int32List", _F.TYPE_INT32),
    ("int64_list_val", 14, "Int64List", _F.TYPE_INT64),
    ("double_list_val", 15, "DoubleList", _F.TYPE_DOUBLE),
    ("float_list_val", 16, "FloatList", _F.TYPE_FLOAT),
    ("bool_list_val", 17, "BoolList", _F.TYPE_BOOL),
    ("unix_timestamp_list_val", 18, "Int64List", _F.TYPE_INT64),
)
PACKAGE = "omniseq.feastwire"
LIST_FIELDS: frozenset[str] = frozenset(name for name, *_ in _LISTS)


def _file_proto() -> descriptor_pb2.FileDescriptorProto:
    fp = descriptor_pb2.FileDescriptorProto(
        name="omniseq/feastwire/value.proto", package=PACKAGE, syntax="proto3"
    )
    for list_name, elem_type in sorted({(m, t) for _, _, m, t in _LISTS}):
        msg = fp.message_type.add(name=list_name)
        msg.field.add(name="val", number=1, type=elem_type, label=_F.LABEL_REPEATED)
    value = fp.message_type.add(name="Value")
    value.oneof_decl.add(name="val")
    for name, number, ftype in _SCALARS:
        value.field.add(name=name, number=number, type=ftype, label=_F.LABEL_OPTIONAL, oneof_index=0)
    for name, number, list_name, _ in _LISTS:
        value.field.add(
            name=name,
            number=number,
            type=_F.TYPE_MESSAGE,
            type_name=f".{PACKAGE}.{list_name}",
            label=_F.LABEL_OPTIONAL,
            oneof_index=0,
        )
    return fp


@cache
def messages() -> dict[str, Any]:
    """The message classes by name (``Value``, ``Int64List``, ``StringList``, ...), built once per process."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_proto())
    names = ["Value", *sorted({m for _, _, m, _ in _LISTS})]
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{n}")) for n in names}
