"""The sandbox wire: trees of numpy buffers round-trip exactly, the schema is sent only
when the layout changes, and malformed bytes from an agent are rejected."""

from __future__ import annotations

import os

import numpy as np
import pytest

from eat_bench.leaderboard import wire


def roundtrip(enc: wire.Encoder, dec: wire.Decoder, tree, msg=wire.ACT):
    """Encode through a real pipe and decode; returns (tree, schema was sent)."""
    r, w = os.pipe()
    try:
        wire.write_frame(w, enc.encode(msg, tree))
        msg_type, schema, payload = wire.read_frame(r)
    finally:
        os.close(r)
        os.close(w)
    assert msg_type == msg
    if schema is not None:
        dec.set_schema(schema)
    return dec.decode(payload), schema is not None


def assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_roundtrip_of_all_leaf_kinds():
    tree = {
        "o": np.arange(12, dtype=np.float32).reshape(3, 4),
        "i": {
            "time_s": np.float64(1.25),
            "invalid_action": np.array(False),
            "count": np.int64(-7),
            "flag": True,
            "n": 3,
            "x": -0.5,
            "name": "héllo",
            "none": None,
            "empty": {},
            "empty_array": np.zeros((0, 2)),
            "mask": np.array([1, 0, 1], dtype=np.int8),
            "nested": {"deep": {"u8": np.uint8(255)}},
            7: np.array([[True, False]]),
        },
    }
    out, sent = roundtrip(wire.Encoder(), wire.Decoder(), tree)
    assert sent
    assert_same(tree, out)
    assert out["i"]["invalid_action"].shape == () and out["i"]["invalid_action"].dtype == np.bool_
    assert isinstance(out["i"]["time_s"], np.float64) and out["i"]["time_s"] == 1.25
    assert out["i"]["n"] == 3 and type(out["i"]["n"]) is int


def test_schema_only_when_the_layout_changes():
    enc, dec = wire.Encoder(), wire.Decoder()
    first, sent1 = roundtrip(enc, dec, {"o": np.zeros(3, np.float32), "t": 1.0})
    second, sent2 = roundtrip(enc, dec, {"o": np.ones(3, np.float32), "t": 2.0})
    assert (sent1, sent2) == (True, False)
    np.testing.assert_array_equal(second["o"], [1, 1, 1])
    assert second["t"] == 2.0
    # a new shape, a new dtype, a dropped key (a PettingZoo agent that finished), a str of another length
    for tree in (
        {"o": np.ones(4, np.float32), "t": 2.0},
        {"o": np.ones(4, np.float64), "t": 2.0},
        {"o": np.ones(4, np.float64)},
        {"o": "ab"},
        {"o": "abc"},
    ):
        out, sent = roundtrip(enc, dec, tree)
        assert sent
        assert_same(tree, out)
    assert roundtrip(enc, dec, {"o": "xyz"}) == ({"o": "xyz"}, False)


def test_top_level_leaves_and_zero_copy_views():
    enc, dec = wire.Encoder(), wire.Decoder()
    assert roundtrip(enc, dec, np.int64(4))[0] == 4
    arr = np.linspace(0, 1, 5)
    out, _ = roundtrip(enc, dec, arr)
    np.testing.assert_array_equal(out, arr)
    assert out.base is not None  # a view of the received buffer, not a copy
    assert roundtrip(enc, dec, 2)[0] == 2 and roundtrip(enc, dec, False)[0] is False


def test_non_contiguous_arrays_are_sent_by_value():
    base = np.arange(20, dtype=np.int32).reshape(4, 5)
    out, _ = roundtrip(wire.Encoder(), wire.Decoder(), {"a": base[:, ::2]})
    np.testing.assert_array_equal(out["a"], base[:, ::2])


def test_pickle_only_where_allowed():
    with pytest.raises(wire.WireError, match="cannot send a list"):
        wire.Encoder().encode(wire.ACT, {"a": [1, 2]})
    with pytest.raises(wire.WireError, match="dict keys"):
        wire.Encoder().encode(wire.ACT, {(1, 2): 1})
    out, _ = roundtrip(wire.Encoder(allow_pickle=True), wire.Decoder(allow_pickle=True), {"a": [1, "b"]})
    assert out == {"a": [1, "b"]}
    parts = wire.Encoder(allow_pickle=True).encode(wire.ACT, {"a": [1]})
    schema = bytes(parts[1])
    with pytest.raises(wire.WireError, match="pickled leaves are not accepted"):
        wire.Decoder(allow_pickle=False).set_schema(schema)


@pytest.mark.parametrize(
    "schema, match",
    [
        (b"not json", "malformed schema"),
        (b'[[["a"], "a", "|O", []]]', "not allowed"),
        (b'[[["a"], "q", "", []]]', "unknown leaf kind"),
        (b'[[["a"], "a", "<f8", [-1]]]', "bad path or shape"),
        (b'[[["a"], "a", "<f8", [1073741824]]]', "exceeds"),
    ],
)
def test_hostile_schemas_are_rejected(schema, match):
    with pytest.raises(wire.WireError, match=match):
        wire.Decoder(max_payload=1 << 20).set_schema(schema)


def test_payload_must_match_the_schema():
    dec = wire.Decoder()
    with pytest.raises(wire.WireError, match="before any schema"):
        dec.decode(bytearray(8))
    dec.set_schema(b'[[["a"], "a", "<f8", [2]]]')
    with pytest.raises(wire.WireError, match="payload of 8 bytes"):
        dec.decode(bytearray(8))


def test_read_frame_deadline_and_bad_header():
    import time

    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        start = time.monotonic()
        with pytest.raises(wire.WireTimeout):
            wire.read_frame(r, deadline=time.monotonic() + 0.1)
        assert time.monotonic() - start < 1.0
        os.write(w, b"XX" + bytes(14))
        with pytest.raises(wire.WireError, match="bad header"):
            wire.read_frame(r, deadline=time.monotonic() + 1)
        os.write(w, wire.HEADER.pack(wire.MAGIC, wire.ACTION, 0, 0, 1 << 40))
        with pytest.raises(wire.WireError, match="too large"):
            wire.read_frame(r, deadline=time.monotonic() + 1, max_payload=1 << 20)
    finally:
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    os.close(w)
    with pytest.raises(wire.WireClosed):
        wire.read_frame(r)
    os.close(r)
