"""The wire protocol between the remote driver and virtkitd.

A frame is a length word, a fixed header and a msgpack body::

    length    int32   the whole frame, this word included (28 .. MAX_FRAME)
    program   uint32  PROGRAM ("VKTD")
    version   uint32  VERSION of the frame layout
    procedure int32   a number from the procedure table (procedures.json)
    type      int32   CALL, REPLY, EVENT, STREAM or KEEPALIVE
    serial    uint32  chosen by the caller; a reply carries its call's serial
    status    int32   OK, ERROR, or UNKNOWN_PROCEDURE (replies); 0 otherwise

The length is checked against :data:`MAX_FRAME` (libvirt's 32 MiB) before any of the body is read,
and a negative or too small length is refused. Bodies are msgpack maps of plain data
(:func:`virtkit.sdk.records.to_plain`'s form, records compacted, see :func:`encode`): a call's
keyword arguments, a reply's ``{"r": result}``, an error reply's ``{"code", "domain", "message"}``,
an event's plain :class:`Event`.

A hook call's result that is a record or a scalar (:data:`BARE_RESULTS`; None is an empty body)
travels bare, not in a ``{"r": result}`` map: the reader's decoder then makes no map of the
wrapper. A map must stay wrapped (a reply that is a map is read as ``{"r": result, "w":
warnings}``), and so does a list, so that a list of records travels as a table (:func:`encode`).
Every client of this protocol version reads a reply that is not a map as the result itself.
"""

from __future__ import annotations

import enum
import operator
import struct
import threading
from typing import Any, NamedTuple

import attrs
import msgpack  # type: ignore[import-untyped, import-not-found, unused-ignore]

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import RECORD_TYPES

PROGRAM = 0x564B5444  # "VKTD"
VERSION = 3  # 2: records travel as their values in order (see encode); 3: the daemon sends
#              events only of the kinds the client asked for with @events
HEADER = struct.Struct("!iIIiiIi")
HEADER_SIZE = HEADER.size
LENGTH = struct.Struct("!i")
_pack_header = HEADER.pack
#: builds a Header from its fields in order without NamedTuple's Python-level __new__
_tuple_new = tuple.__new__
_unpack_header = HEADER.unpack_from
#: The largest frame accepted, header included (libvirt's limit).
MAX_FRAME = 32 * 1024 * 1024


class Type(enum.IntEnum):
    CALL = 0
    REPLY = 1
    EVENT = 2
    STREAM = 3
    KEEPALIVE = 4


class Status(enum.IntEnum):
    OK = 0
    ERROR = 1
    #: The daemon has no procedure of that number: it is older than the client.
    UNKNOWN_PROCEDURE = 2


#: Keepalive frames carry one of these as their procedure.
PING, PONG = 1, 2


class ProtocolError(Exception):
    """A frame that breaks the protocol; the peer that sent it is disconnected."""


class Header(NamedTuple):
    """A frame's fixed header (a tuple: built and read on every frame, so it costs no more
    than one)."""

    procedure: int
    type: int
    serial: int
    status: int = 0
    program: int = PROGRAM
    version: int = VERSION


#: The keys of a record's map on the wire. Bytes, so that no plain-data map (whose keys are
#: strings) is ever taken for a record.
RECORD_TAG, RECORD_VALUES = b"R", b"V"
#: A list of records of one type travels as a table: these keys (with RECORD_VALUES for its
#: rows), from this many records on.
TABLE_TAG, TABLE_NESTED = b"T", b"N"
TABLE_MIN = 4

_unpackb = msgpack.unpackb
#: Each thread packs with a Packer of its own (made once: msgpack.packb makes one per call, and
#: a Packer may not be shared, since its ``default`` hook runs Python code mid-pack).
_local = threading.local()


def _new_packer() -> Any:
    packer = msgpack.Packer(use_bin_type=True, default=_default, autoreset=True)
    _local.pack = packer.pack
    return packer.pack

_GETTERS: dict[type, Any] = {}


def _getter(cls: type) -> Any:
    """A record class's field values in declaration order (one C call), or None when ``cls``
    is not a registered record."""
    get = _GETTERS.get(cls)
    if get is None:
        if RECORD_TYPES.get(cls.__name__) is not cls:
            return None
        names = _field_names(cls)
        if len(names) == 1:
            only = names[0]

            def get(value: Any) -> tuple[Any, ...]:
                return (getattr(value, only),)
        else:
            get = operator.attrgetter(*names)
        _GETTERS[cls] = get
    return get


def _default(value: Any) -> Any:
    """msgpack's hook for what it cannot pack itself: a record becomes a map of its type's name
    and its field values in declaration order (packed in turn, nested records included)."""
    mapper = _MAPPERS.get(type(value))
    if mapper is None:
        mapper = _mapper(type(value))
    return mapper(value)


#: record class -> what makes its wire map (see _mapper)
_MAPPERS: dict[type, Any] = {}


def _mapper(cls: type) -> Any:
    """For a registered record class, a function compiled once that makes a record's wire map
    (one call per record where the generic way took three); TypeError for anything else."""
    get = _getter(cls)
    if get is None:
        raise TypeError(f"{cls.__name__} is not plain data and cannot cross a hook boundary")
    names = _field_names(cls)
    values = "".join(f"v.{n}, " for n in names)
    env: dict[str, Any] = {"_tag": RECORD_TAG, "_values": RECORD_VALUES, "_name": cls.__name__}
    source = f"def mapper(v):\n    return {{_tag: _name, _values: ({values})}}\n"
    exec(compile(source, f"<virtkit record map {cls.__name__}>", "exec"), env)
    mapper = _MAPPERS[cls] = env["mapper"]
    return mapper


def _tabled(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with each of its values that is a list of records of one type (at least
    :data:`TABLE_MIN`) made a table (see :func:`encode`)."""
    out = None
    for key, value in body.items():
        if type(value) is list and len(value) >= TABLE_MIN:
            table = _table(value)
            if table is not None:
                if out is None:
                    out = dict(body)
                out[key] = table
    return body if out is None else out


def _table(items: list[Any]) -> dict[bytes, Any] | None:
    """Records of one type as one map: the type's name, the name of the record type each
    column holds where every row holds a record of that same type there (those values travel
    as their own values in order), and the rows, each the record's values in order."""
    cls = type(items[0])
    if _getter(cls) is None or set(map(type, items)) != {cls}:
        return None
    nested: list[str | None] = []
    first = items[0]
    for name in _field_names(cls):
        kind = type(getattr(first, name))
        if _getter(kind) is None or set(map(type, map(operator.attrgetter(name), items))) != {kind}:
            nested.append(None)
        else:
            nested.append(kind.__name__)
    return {TABLE_TAG: cls.__name__, TABLE_NESTED: nested,
            RECORD_VALUES: _rows_maker(cls, tuple(nested))(items)}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_ROWS: dict[tuple[type, tuple[str | None, ...]], Any] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def _rows_maker(cls: type, nested: tuple[str | None, ...]) -> Any:
    """A function from a list of ``cls`` records to their table rows, the columns ``nested``
    names as their own values in order (compiled once per record type and layout: one
    comprehension, no tuple rebuilt per column)."""
    key = (cls, nested)
    make = _ROWS.get(key)
    if make is None:
        env: dict[str, Any] = {}
        cells = []
        for i, (name, inner) in enumerate(zip(_field_names(cls), nested, strict=True)):
            if inner is None:
                cells.append(f"x.{name}")
            else:
                env[f"_g{i}"] = _getter(RECORD_TYPES[inner])
                cells.append(f"_g{i}(x.{name})")
        source = f"def make(items):\n    return [({', '.join(cells)},) for x in items]\n"
        exec(compile(source, f"<virtkit table rows {cls.__name__}>", "exec"), env)
        make = _ROWS[key] = env["make"]
    return make


def _untable(data: dict[Any, Any]) -> list[Any]:
    types = RECORD_TYPES
    name, nested, rows = data.get(TABLE_TAG), data.get(TABLE_NESTED), data.get(RECORD_VALUES)
    cls = types.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown record type {name!r}")
    if not isinstance(nested, list) or not isinstance(rows, list) or len(data) != 3:
        raise ValueError(f"malformed {name} table")
    inner: list[Any] = []
    for nested_name in nested:
        kind = None
        if nested_name is not None:
            kind = types.get(nested_name) if isinstance(nested_name, str) else None
            if kind is None:
                raise ValueError(f"unknown record type {nested_name!r} in a {name} table")
        inner.append(_builder(kind))
    build = _builder(cls)
    if any(type(row) is not list for row in rows):
        raise ValueError(f"malformed {name} table")
    # the nested records are built in place in each row (rows are msgpack's own lists)
    for col, kind in enumerate(inner):
        if kind is not None:
            for row in rows:
                row[col] = kind(*row[col])
    return [build(*row) for row in rows]


#: record class -> what builds one from its values in order (see _builder)
_BUILDERS: dict[Any, Any] = {None: None}


def _builder(cls: Any) -> Any:
    """What builds a ``cls`` from its field values in order, as ``cls(*values)`` would: for a
    slotted record whose fields are plain (no converter, validator, factory default or init
    hook), a function that fills the slots directly, about a quarter quicker than attrs's
    frozen ``__init__`` (which is the record's only other way in); else ``cls`` itself.
    Decoding a long list builds two records a row, so this is most of its cost."""
    try:
        return _BUILDERS[cls]
    except KeyError:
        pass
    build: Any = cls
    fields = attrs.fields(cls)
    names = [f.name for f in fields]
    plain = (
        all(f.init and f.converter is None and f.validator is None
            and not isinstance(f.default, attrs.Factory) for f in fields)  # type: ignore[arg-type]
        and not any(hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__"))
        and all(type(vars(cls).get(n)).__name__ == "member_descriptor" for n in names)
        and set(getattr(cls, "__slots__", ())) - {"__weakref__"} <= set(names)
    )
    if plain:
        env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
        params, body = [], []
        for i, f in enumerate(fields):
            env[f"_set{i}"] = vars(cls)[f.name].__set__
            if f.default is attrs.NOTHING:
                params.append(f"a{i}")
            else:
                env[f"_d{i}"] = f.default
                params.append(f"a{i}=_d{i}")
            body.append(f"    _set{i}(o, a{i})\n")
        source = (f"def build({', '.join(params)}):\n    o = _new(_cls)\n" + "".join(body)
                  + "    return o\n")
        exec(compile(source, f"<virtkit record builder {cls.__name__}>", "exec"), env)
        build = env["build"]
    _BUILDERS[cls] = build
    return build


def _object_hook(data: dict[Any, Any]) -> Any:
    """msgpack's hook for every map it decodes (innermost first): record maps become records,
    built from their values by position (fields added at the end later have defaults); a
    table becomes its list of records."""
    tag = data.get(RECORD_TAG) if len(data) == 2 else None
    if tag is not None:
        build = _BY_NAME.get(tag) if type(tag) is str else None
        if build is None:
            build = _builder_named(tag)
        values = data.get(RECORD_VALUES)
        if type(values) is not list:
            raise ValueError(f"malformed {tag} record")
        return build(*values)
    if TABLE_TAG in data:
        return _untable(data)
    if RECORD_TAG in data:
        raise ValueError(f"malformed {data[RECORD_TAG]!r} record")
    return data


#: record type name -> its builder (see _builder), filled as names are first met
_BY_NAME: dict[str, Any] = {}


def _builder_named(tag: Any) -> Any:
    cls = RECORD_TYPES.get(tag) if type(tag) is str else None
    if cls is None:
        raise ValueError(f"unknown record type {tag!r}")
    build = _BY_NAME[tag] = _builder(cls)
    return build


def encode(header: Header, body: Any = None) -> bytes:
    """One whole frame: length word, header, msgpack body (empty when ``body`` is None).

    The body is plain data as :func:`virtkit.sdk.records.to_plain` defines it, except that bytes
    travel as msgpack's bin type rather than hex text and a record travels as a map of two bytes
    keys, its type's name and its field values in order (``{b"R": "DomainRef", b"V": [name,
    uuid, id]}``), made by msgpack's ``default`` hook as it packs: half the bytes of a map of
    field names, and a third of the work to decode. A value of a body's map that is a list of
    records of one type travels as one table (``{b"T": "DomainSummary", b"N": ["DomainRef",
    None, ...], b"V": [[[name, uuid, id], state, ...], ...]}``: the rows, with the records each
    column holds throughout as their values too), which halves the work of a long listing
    on both sides."""
    return frame(header.procedure, header.type, header.serial, header.status,
                 pack_body(body), header.program, header.version)


#: Result classes a hook call's reply carries bare, like a record (see the module's docs).
BARE_RESULTS = frozenset({bool, int, float, str, bytes, type(None)})


def pack_body(body: Any) -> bytes:
    """A frame's body alone (empty when ``body`` is None), as :func:`encode` packs it.

    :raises VirtError: INTERNAL_ERROR when ``body`` is not plain data.
    """
    if body is None:
        return b""
    try:
        pack = _local.pack
    except AttributeError:
        pack = _new_packer()
    if type(body) is dict:
        for value in body.values():  # (the usual body has no long list: no call)
            if type(value) is list and len(value) >= TABLE_MIN:
                body = _tabled(body)
                break
    try:
        return pack(body)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise VirtError(ErrorCode.INTERNAL_ERROR, f"internal error: a message is not plain "
                        f"data: {exc}", ErrorDomain.RPC) from None


def frame(procedure: int, kind: int, serial: int, status: int, payload: bytes,
          program: int = PROGRAM, version: int = VERSION) -> bytes:
    """A whole frame from its header's fields and a packed body (:func:`pack_body`).

    :raises VirtError: RPC when the frame would exceed :data:`MAX_FRAME`.
    """
    length = HEADER_SIZE + len(payload)
    if length > MAX_FRAME:
        raise VirtError(
            ErrorCode.RPC,
            f"a message of {length} bytes exceeds the largest frame ({MAX_FRAME} bytes)",
            ErrorDomain.RPC,
        )
    return _pack_header(length, program, version, procedure, kind, serial, status) + payload


def check_length(word: bytes) -> int:
    """The body length that the frame's first four bytes announce; ProtocolError when the length
    is negative, smaller than the header or larger than MAX_FRAME (checked before reading on)."""
    length = int(LENGTH.unpack(word)[0])
    if length < HEADER_SIZE:
        raise ProtocolError(f"frame length {length} is smaller than the header ({HEADER_SIZE})")
    if length > MAX_FRAME:
        raise ProtocolError(f"frame length {length} exceeds the maximum of {MAX_FRAME} bytes")
    return length - HEADER_SIZE


def decode_header(first: bytes) -> Header:
    """Parse the 28 header bytes (length word included); checks program and frame type."""
    _length, program, version, procedure, kind, serial, status = HEADER.unpack(first)
    if program != PROGRAM:
        raise ProtocolError(f"unknown program 0x{program:08x} (expected 0x{PROGRAM:08x})")
    if kind not in _TYPES:
        raise ProtocolError(f"unknown frame type {kind}")
    return Header(procedure, kind, serial, status, program, version)


_TYPES = frozenset(int(t) for t in Type)


def parse_header(buf: bytes | bytearray) -> tuple[int, Header]:
    """The body length and the header of the frame at the start of ``buf`` (at least
    :data:`HEADER_SIZE` bytes, read in place): :func:`check_length` and :func:`decode_header`
    in one step, with the same checks and errors."""
    length, program, version, procedure, kind, serial, status = _unpack_header(buf)
    if length < HEADER_SIZE or length > MAX_FRAME:
        check_length(bytes(buf[:4]))  # raises, naming the length
    if program != PROGRAM:
        raise ProtocolError(f"unknown program 0x{program:08x} (expected 0x{PROGRAM:08x})")
    if kind not in _TYPES:
        raise ProtocolError(f"unknown frame type {kind}")
    return length - HEADER_SIZE, _tuple_new(Header, (procedure, kind, serial, status, program,
                                                     version))


def decode_body(payload: bytes) -> Any:
    """The msgpack body; ProtocolError for anything that is not one well-formed value."""
    if not payload:
        return None
    try:
        return _unpackb(payload, raw=False, strict_map_key=True,
                               object_hook=_object_hook)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError(f"malformed message body: {type(exc).__name__}: {exc}") from None


def error_body(exc: VirtError) -> dict[str, Any]:
    return exc.to_dict()


def error_from_body(body: Any) -> VirtError:
    """The VirtError an error reply carries (RPC error when the body is not one)."""
    if (
        isinstance(body, dict)
        and isinstance(body.get("code"), int)
        and isinstance(body.get("message"), str)
        and isinstance(body.get("domain", 0), int)
    ):
        return VirtError.from_dict(body)
    return VirtError(ErrorCode.RPC, "the daemon sent an unreadable error reply", ErrorDomain.RPC)
