"""The process that hosts a submitted agent inside the sandbox.

Started by :class:`eat_bench.leaderboard.sandbox.SandboxedAgent` as
``python -m eat_bench.leaderboard.agent_host`` with the request pipe on stdin and the
reply pipe on stdout. It moves both pipes to private descriptors first and points fd 1 at
stderr, so an agent's ``print`` cannot corrupt the protocol. Then it serves INIT (import
the entry point, call the factory), RESET, ACT and ACT_BATCH messages (see :mod:`.wire`) until CLOSE
or end of input. Failures are answered with an ERROR message naming the reason and the
traceback; the evaluator then kills the process tree.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import pickle
import struct
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from eat_bench.leaderboard import wire

PR_SET_CHILD_SUBREAPER = 36
MAX_DETAIL = 8000


def _become_subreaper() -> None:
    """Keep orphaned grandchildren in our subtree so the evaluator can find and kill them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _normalise(action: Any) -> Any:
    """Lists and tuples of numbers become arrays; dicts recurse; the rest is left as is
    for the evaluator to validate."""
    if isinstance(action, Mapping):
        return {k: _normalise(v) for k, v in action.items()}
    if isinstance(action, (list, tuple)):
        arr = np.asarray(action)
        if arr.dtype.kind == "O":
            raise TypeError(f"a {type(action).__name__} that is not an array of numbers")
        return arr
    return action


class Host:
    """One agent behind the pipes."""

    def __init__(self, req_fd: int, resp_fd: int) -> None:
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.decoder = wire.Decoder(allow_pickle=True)  # the evaluator is trusted
        self.encoder = wire.Encoder(allow_pickle=False)
        self.agent: Any = None

    def send(self, msg_type: int, payload: bytes = b"") -> None:
        wire.write_frame(self.resp_fd, [wire.HEADER.pack(wire.MAGIC, msg_type, 0, 0, len(payload)), payload])

    def fail(self, reason: str, detail: str) -> None:
        self.send(wire.ERROR, json.dumps({"reason": reason, "detail": detail[-MAX_DETAIL:]}).encode())

    def init(self, payload: bytes) -> bool:
        spec = pickle.loads(payload)
        sys.path.insert(0, os.getcwd())
        module_name, _, factory_name = spec["entry_point"].partition(":")
        try:
            module = importlib.import_module(module_name)
        except BaseException:  # noqa: BLE001  (SystemExit in an import is a failure too)
            self.fail("import-error", f"importing {module_name!r} failed:\n{traceback.format_exc()}")
            return False
        factory = getattr(module, factory_name, None)
        if not callable(factory):
            self.fail(
                "import-error",
                f"module {module_name!r} has no callable {factory_name!r} (entry point {spec['entry_point']!r})",
            )
            return False
        try:
            agent = factory(spec["observation_space"], spec["action_space"], spec["env_id"])
        except BaseException:  # noqa: BLE001
            self.fail(
                "factory-error",
                f"{spec['entry_point']}(observation_space, action_space, env_id) raised:\n{traceback.format_exc()}",
            )
            return False
        if not callable(getattr(agent, "act", None)):
            self.fail(
                "factory-error",
                f"{spec['entry_point']} returned a {type(agent).__name__} without an act(observation, info) method",
            )
            return False
        self.agent = agent
        self.send(wire.READY, b"\x01" if callable(getattr(agent, "act_batch", None)) else b"\x00")
        return True

    def reset(self, payload: bytes) -> bool:
        has_seed, seed = struct.unpack("<?q", payload)
        reset = getattr(self.agent, "reset", None)
        if callable(reset):
            try:
                reset(seed if has_seed else None)
            except BaseException:  # noqa: BLE001
                self.fail("crash", f"reset({seed if has_seed else None}) raised:\n{traceback.format_exc()}")
                return False
        self.send(wire.DONE)
        return True

    def act(self, schema: bytes | None, payload: bytearray) -> bool:
        if schema is not None:
            self.decoder.set_schema(schema)
        tree = self.decoder.decode(payload)
        try:
            action = self.agent.act(tree["o"], tree["i"])
        except BaseException:  # noqa: BLE001
            self.fail("crash", f"act(observation, info) raised:\n{traceback.format_exc()}")
            return False
        try:
            parts = self.encoder.encode(wire.ACTION, _normalise(action))
        except (wire.WireError, TypeError, ValueError) as err:
            self.fail("malformed-action", f"act returned {type(action).__name__} {action!r:.200}: {err}")
            return False
        wire.write_frame(self.resp_fd, parts)
        return True

    def act_batch(self, schema: bytes | None, payload: bytearray) -> bool:
        """ACT_BATCH: observations and infos keyed 0..n-1 -> ``act_batch`` -> actions keyed alike."""
        if schema is not None:
            self.decoder.set_schema(schema)
        tree = self.decoder.decode(payload)
        n = len(tree["o"])
        try:
            actions = list(self.agent.act_batch([tree["o"][k] for k in range(n)], [tree["i"][k] for k in range(n)]))
        except BaseException:  # noqa: BLE001
            self.fail("crash", f"act_batch(observations, infos) raised:\n{traceback.format_exc()}")
            return False
        if len(actions) != n:
            self.fail("malformed-action", f"act_batch returned {len(actions)} actions for {n} observations")
            return False
        try:
            parts = self.encoder.encode(wire.ACTION, {k: _normalise(a) for k, a in enumerate(actions)})
        except (wire.WireError, TypeError, ValueError) as err:
            self.fail("malformed-action", f"act_batch returned an action that cannot be sent: {err}")
            return False
        wire.write_frame(self.resp_fd, parts)
        return True

    def serve(self) -> None:
        while True:
            try:
                msg_type, schema, payload = wire.read_frame(self.req_fd)
            except wire.WireClosed:
                return
            if msg_type == wire.CLOSE:
                return
            if msg_type != wire.INIT and self.agent is None:
                self.fail("protocol", f"message type {msg_type} before INIT")
                return
            if msg_type == wire.INIT:
                ok = self.init(payload)
            elif msg_type == wire.RESET:
                ok = self.reset(payload)
            elif msg_type == wire.ACT:
                ok = self.act(schema, payload)
            elif msg_type == wire.ACT_BATCH:
                ok = self.act_batch(schema, payload)
            else:
                self.fail("protocol", f"unexpected message type {msg_type}")
                return
            if not ok:
                return


def main() -> None:
    req_fd, resp_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    _become_subreaper()
    Host(req_fd, resp_fd).serve()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: an agent's atexit hooks or threads must not stall the exit


if __name__ == "__main__":
    main()
