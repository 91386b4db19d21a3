"""The per-step wire between the evaluator and a sandboxed agent: framed messages of raw
numpy bytes over pipes.

A message is a 16-byte header (magic, type, flags, schema length, payload length), then,
only when the tree's layout changed since the previous message in that direction, a JSON
schema (leaf paths, kinds, dtypes, shapes), then the payload: every leaf's bytes, each
aligned to 16 bytes. Trees are nested dicts (str or int keys) whose leaves are numpy
arrays or scalars, Python bool/int/float/str or None. Decoding uses ``np.frombuffer`` over
a fresh buffer per message, so arrays are views, not copies, and stay valid.

Why not pickle: the agent is untrusted (unpickling its bytes would run its code in the
evaluator) and pickling dicts per step costs more than the step. Only the direction
evaluator -> agent may carry pickled leaves (``allow_pickle``) for odd info values.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"EB"
HEADER = struct.Struct("<2sBBIQ")  # magic, message type, flags, schema bytes, payload bytes
FLAG_SCHEMA = 1
ALIGN = 16
MAX_SCHEMA_BYTES = 1 << 20
NUMERIC_KINDS = frozenset("biufc")

# Message types. Evaluator -> agent:
INIT, RESET, ACT, CLOSE, ACT_BATCH = 1, 2, 3, 4, 5
# Agent -> evaluator:
READY, DONE, ACTION, ERROR = 10, 11, 12, 13
MESSAGE_TYPES = frozenset({INIT, RESET, ACT, CLOSE, ACT_BATCH, READY, DONE, ACTION, ERROR})


class WireError(Exception):
    """A tree that cannot be encoded, or bytes that are not a valid message."""


class WireTimeout(WireError):
    """The deadline passed before a whole message was read or written."""


class WireClosed(WireError):
    """The other end closed the pipe."""


@dataclass(frozen=True)
class Leaf:
    """One leaf of a schema: where it sits, what it is, and where its bytes are."""

    path: tuple[str | int, ...]
    kind: str  # a: ndarray, s: numpy scalar, b/i/f: python bool/int/float, u: str, n: None, d: {}, p: pickle
    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


_PY_KINDS = {bool: ("b", "|b1"), int: ("i", "<i8"), float: ("f", "<f8")}
_SCALAR_STRUCT = {"b": struct.Struct("<?"), "i": struct.Struct("<q"), "f": struct.Struct("<d")}


def _pad(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def flatten(tree: Any, allow_pickle: bool = False) -> list[tuple[tuple, str, str, tuple, Any]]:
    """The leaves of ``tree`` in order, as (path, kind, dtype, shape, buffer)."""
    out: list[tuple[tuple, str, str, tuple, Any]] = []

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, Mapping):
            if not node:
                out.append((path, "d", "", (), b""))
            for key, value in node.items():
                if type(key) not in (str, int):
                    raise WireError(f"dict keys must be str or int, got {type(key).__name__} at {list(path)}")
                walk(value, path + (key,))
            return
        if isinstance(node, np.ndarray) or isinstance(node, np.generic):
            arr = np.asarray(node)
            if arr.ndim and not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            if arr.dtype.kind in NUMERIC_KINDS or arr.dtype.kind in "SU":
                kind = "a" if isinstance(node, np.ndarray) else "s"
                out.append(
                    (
                        path,
                        kind,
                        arr.dtype.str,
                        arr.shape,
                        arr.data.cast("B") if arr.ndim and arr.size else arr.tobytes(),
                    )
                )
                return
        else:
            py = _PY_KINDS.get(type(node))
            if py is not None:
                if py[0] == "i" and not -(1 << 63) <= node < (1 << 63):
                    if not allow_pickle:
                        raise WireError(f"int {node} at {list(path)} does not fit in 64 bits")
                else:
                    out.append((path, py[0], py[1], (), _SCALAR_STRUCT[py[0]].pack(node)))
                    return
            elif isinstance(node, str):
                data = node.encode("utf-8")
                out.append((path, "u", "", (len(data),), data))
                return
            elif node is None:
                out.append((path, "n", "", (), b""))
                return
        if not allow_pickle:
            raise WireError(
                f"cannot send a {type(node).__name__} at {list(path)}: only dicts, numpy arrays/scalars, bool, int, float, str and None"
            )
        data = pickle.dumps(node, protocol=pickle.HIGHEST_PROTOCOL)
        out.append((path, "p", "", (len(data),), data))

    walk(tree, ())
    return out


class Encoder:
    """Encodes trees for one direction of a pipe, sending the schema only when it changes."""

    def __init__(self, allow_pickle: bool = False) -> None:
        self.allow_pickle = allow_pickle
        self._layout: tuple | None = None

    def encode(self, msg_type: int, tree: Any) -> list[Any]:
        """The buffers of one message carrying ``tree`` (pass them to :func:`write_frame`)."""
        leaves = flatten(tree, self.allow_pickle)
        layout = tuple((p, k, d, s) for p, k, d, s, _ in leaves)
        parts: list[Any] = []
        offset = 0
        sizes = [len(buf) for *_, buf in leaves]  # a memoryview here is cast to bytes
        schema = b""
        if layout != self._layout:
            schema = json.dumps([[list(p), k, d, list(s)] for p, k, d, s in layout]).encode()
            self._layout = layout
        for (*_, buf), n in zip(leaves, sizes):
            parts.append(buf)
            pad = _pad(n) - n
            if pad:
                parts.append(b"\0" * pad)
            offset += n + pad
        header = HEADER.pack(MAGIC, msg_type, FLAG_SCHEMA if schema else 0, len(schema), offset)
        return [header, schema, *parts] if schema else [header, *parts]


class Decoder:
    """Decodes trees for one direction of a pipe, remembering the last schema."""

    def __init__(self, allow_pickle: bool = False, max_payload: int = 1 << 30) -> None:
        self.allow_pickle = allow_pickle
        self.max_payload = max_payload
        self._leaves: list[Leaf] | None = None
        self._size = 0

    def set_schema(self, schema: bytes) -> None:
        """Parse and check a schema sent by the other end."""
        try:
            raw = json.loads(schema)
            leaves: list[Leaf] = []
            offset = 0
            for path, kind, dtype, shape in raw:
                path = tuple(path)
                shape = tuple(shape)
                if not all(type(k) in (str, int) for k in path) or not all(type(n) is int and n >= 0 for n in shape):
                    raise WireError(f"bad path or shape {path} {shape}")
                if kind in ("a", "s"):
                    dt = np.dtype(dtype)
                    if dt.kind not in NUMERIC_KINDS and dt.kind not in "SU" or dt.fields is not None:
                        raise WireError(f"dtype {dtype!r} not allowed")
                    if kind == "s" and shape != ():
                        raise WireError("a scalar leaf has a shape")
                    nbytes = dt.itemsize * int(np.prod(shape, dtype=np.int64))
                elif kind in _SCALAR_STRUCT:
                    nbytes = _SCALAR_STRUCT[kind].size
                elif kind in ("u", "p"):
                    if kind == "p" and not self.allow_pickle:
                        raise WireError("pickled leaves are not accepted from this end")
                    if len(shape) != 1:
                        raise WireError("a str leaf needs its byte length")
                    nbytes = shape[0]
                elif kind in ("n", "d"):
                    nbytes = 0
                else:
                    raise WireError(f"unknown leaf kind {kind!r}")
                leaves.append(Leaf(path, kind, dtype, shape, offset, nbytes))
                offset += _pad(nbytes)
        except WireError:
            raise
        except Exception as err:  # malformed JSON, wrong arity, bad dtype string
            raise WireError(f"malformed schema: {err}") from None
        if offset > self.max_payload:
            raise WireError(f"schema of {offset} bytes exceeds the {self.max_payload}-byte limit")
        self._leaves, self._size = leaves, offset

    def decode(self, payload: bytearray | bytes) -> Any:
        """The tree in ``payload`` under the current schema (arrays are views of it)."""
        if self._leaves is None:
            raise WireError("payload before any schema")
        if len(payload) != self._size:
            raise WireError(f"payload of {len(payload)} bytes, the schema says {self._size}")
        root: Any = None
        for leaf in self._leaves:
            kind = leaf.kind
            if kind == "a":
                value: Any = np.frombuffer(
                    payload, dtype=leaf.dtype, count=int(np.prod(leaf.shape, dtype=np.int64)), offset=leaf.offset
                ).reshape(leaf.shape)
            elif kind == "s":
                value = np.frombuffer(payload, dtype=leaf.dtype, count=1, offset=leaf.offset)[0]
            elif kind in _SCALAR_STRUCT:
                value = _SCALAR_STRUCT[kind].unpack_from(payload, leaf.offset)[0]
            elif kind == "u":
                value = bytes(payload[leaf.offset : leaf.offset + leaf.nbytes]).decode("utf-8", errors="replace")
            elif kind == "p":
                value = pickle.loads(payload[leaf.offset : leaf.offset + leaf.nbytes])
            elif kind == "d":
                value = {}
            else:
                value = None
            if not leaf.path:
                root = value
                continue
            if root is None:
                root = {}
            node = root
            for key in leaf.path[:-1]:
                node = node.setdefault(key, {})
            node[leaf.path[-1]] = value
        return root


def write_frame(fd: int, parts: list[Any], deadline: float | None = None) -> None:
    """Write all of ``parts`` to ``fd`` (blocking, or non-blocking until ``deadline``)."""
    views = [v for v in (memoryview(p).cast("B") for p in parts) if v.nbytes]
    while views:
        try:
            n = os.writev(fd, views)
        except BlockingIOError:
            _wait(fd, deadline, write=True)
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise WireClosed("the other end closed the pipe") from None
        while n:
            if n >= views[0].nbytes:
                n -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][n:]
                n = 0


def _wait(fd: int, deadline: float | None, write: bool = False) -> None:
    timeout = None if deadline is None else deadline - time.monotonic()
    if timeout is not None and timeout <= 0:
        raise WireTimeout("deadline passed")
    ready = select.select([], [fd], [], timeout) if write else select.select([fd], [], [], timeout)
    if not ready[1 if write else 0]:
        raise WireTimeout("deadline passed")


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytearray:
    """Exactly ``n`` bytes from ``fd`` into a fresh buffer."""
    buf = bytearray(n)
    view = memoryview(buf)
    pos = 0
    while pos < n:
        try:
            got = os.readv(fd, [view[pos:]])
        except BlockingIOError:
            _wait(fd, deadline)
            continue
        if got == 0:
            raise WireClosed("the other end closed the pipe")
        pos += got
    return buf


def read_frame(
    fd: int, deadline: float | None = None, max_payload: int = 1 << 30
) -> tuple[int, bytes | None, bytearray]:
    """One message: (type, schema bytes or None, payload)."""
    if deadline is not None:
        _wait(fd, deadline)  # the common case: sleep in select until the reply starts
    magic, msg_type, flags, schema_len, payload_len = HEADER.unpack(read_exact(fd, HEADER.size, deadline))
    if magic != MAGIC or msg_type not in MESSAGE_TYPES:
        raise WireError(f"bad header (magic {magic!r}, type {msg_type})")
    if schema_len > MAX_SCHEMA_BYTES or payload_len > max_payload:
        raise WireError(f"message too large (schema {schema_len} bytes, payload {payload_len} bytes)")
    schema = bytes(read_exact(fd, schema_len, deadline)) if flags & FLAG_SCHEMA else None
    return msg_type, schema, read_exact(fd, payload_len, deadline)
