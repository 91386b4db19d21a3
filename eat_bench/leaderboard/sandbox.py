"""Run a submitted agent in an isolated process and talk to it over pipes.

The evaluator owns the environment; the agent lives in a child process
(:mod:`.agent_host`) that sees only the spaces, the env id, and per step the observation
and info, sent as raw numpy bytes (:mod:`.wire`). Isolation, strongest first:

- ``bwrap``: bubblewrap with a read-only ``/``, private ``/tmp``, ``/dev``, ``/proc``, the
  scratch copy of the submission bound read-write as the working directory, new network
  (no interfaces reach the host), pid, ipc and uts namespaces, ``--die-with-parent``,
  ``--new-session``, and uid/gid 65534.
- ``unshare``: ``unshare --net --pid --fork --kill-child`` then ``setpriv`` to 65534
  where the interpreter is readable by that uid: no network, but the filesystem is the
  host's (guarded by file permissions only).
- ``none``: a plain subprocess: no network or filesystem isolation; the limits below still
  hold.

Limits in every mode: wall-clock deadlines (startup, per decision, per episode, total);
the resident memory and the process/thread count of the agent's whole process tree,
polled from the parent every ``POLL_S`` (no RLIMIT_AS: torch cannot import under one);
RLIMIT_NPROC, which binds only once the uid is dropped (root ignores it); thread-count
environment variables. Any violation kills the whole tree and raises
:class:`AgentFailure` with a reason from :data:`FAILURE_REASONS`.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import pickle
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from eat_bench.leaderboard import wire

FAILURE_REASONS: tuple[str, ...] = (
    "import-error",
    "factory-error",
    "startup-timeout",
    "crash",
    "decision-timeout",
    "episode-timeout",
    "total-timeout",
    "memory",
    "processes",
    "malformed-action",
    "protocol",
)
NOBODY = 65534
POLL_S = 0.05
NPROC_FACTOR = 4  # RLIMIT_NPROC = NPROC_FACTOR x max_processes
STDERR_TAIL_BYTES = 16_384
MAX_ACTION_BYTES = 64 << 20
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding eat_bench/


@dataclass(frozen=True)
class Limits:
    """What a submitted agent may use. Wall-clock seconds, bytes, counts."""

    startup_s: float = 120.0  # import of the entry point + factory call
    decision_s: float = 10.0  # wall clock per act() (and per reset())
    episode_s: float = 1800.0  # wall clock of one episode (from reset to the last act)
    total_s: float = 6 * 3600.0  # wall clock of the agent process's whole life
    memory_bytes: int = 4 << 30  # resident memory of the agent's whole process tree
    max_processes: int = 64  # processes + threads the agent may have
    threads: int = 1  # OMP/MKL/OPENBLAS/... thread env vars in the child


class AgentFailure(Exception):
    """The agent was stopped: ``reason`` is one of :data:`FAILURE_REASONS`, ``detail`` says
    what happened (with the tail of the agent's stderr)."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}; expected one of {FAILURE_REASONS}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Isolation:
    """Which isolation ran, and what it guarantees."""

    kind: str  # "bwrap" | "unshare" | "none"
    network_isolated: bool
    uid: int  # the uid the agent runs as (65534 when dropped)
    read_only_root: bool
    detail: str


KINDS = ("bwrap", "unshare", "none")


def _needed_paths() -> list[Path]:
    """Folders the child must read: the interpreter's prefixes and import path, and eat_bench."""
    paths = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        _PACKAGE_ROOT,
        Path(sys.executable).resolve().parent,
    }
    paths.update(Path(p) for p in sys.path if p and Path(p).is_dir())
    return sorted({p.resolve() for p in paths})


def _hidden_ancestors(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` that others cannot traverse (e.g. ``/root``, 0700)."""
    for parent in reversed(path.parents):
        try:
            if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                return parent
        except OSError:
            return None
    return None


def _expose_args(extra: list[Path]) -> list[str]:
    """bwrap arguments that make the needed folders readable by uid 65534 when an ancestor
    is private: a tmpfs over that ancestor (hiding the rest of it, e.g. root's home)
    with only the needed folders bound back read-only."""
    tops: dict[Path, list[Path]] = {}
    for path in _needed_paths() + extra:
        top = _hidden_ancestors(path)
        if top is not None:
            tops.setdefault(top, []).append(path)
    args: list[str] = []
    for top in sorted(tops):
        args += ["--perms", "0755", "--tmpfs", str(top)]
        made: set[Path] = set()
        paths = sorted(set(tops[top]))
        for path in paths:
            if any(other != path and other in path.parents for other in paths):
                continue  # bound with its ancestor
            for parent in reversed(path.parents):  # bwrap would make these 0700
                if top in parent.parents and parent not in made:
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            if path not in extra:
                args += ["--ro-bind", str(path), str(path)]
            else:
                args += ["--perms", "0755", "--dir", str(path)]
    return args


def _bwrap_command(scratch: Path, drop: bool) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    cmd = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--perms",
        "01777",
        "--tmpfs",
        "/tmp",
        "--dev",
        "/dev",
        "--perms",
        "01777",
        "--tmpfs",
        "/dev/shm",
        "--proc",
        "/proc",
    ]
    cmd += _expose_args([scratch])
    cmd += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if drop and os.geteuid() == 0:
        cmd += [shutil.which("setpriv") or "setpriv", *_SETPRIV]
    elif drop:  # unprivileged caller: a user namespace maps it to 65534 inside
        cmd[1:1] = ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    return cmd


_SETPRIV = [
    "--reuid",
    str(NOBODY),
    "--regid",
    str(NOBODY),
    "--clear-groups",
    "--no-new-privs",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--",
]


def _unshare_command(drop: bool) -> list[str]:
    cmd = [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--kill-child", "--"]
    if drop:
        cmd += [shutil.which("setpriv") or "setpriv", *_SETPRIV]
    return cmd


def _wrapper(kind: str, scratch: Path, drop: bool) -> list[str]:
    if kind == "bwrap":
        return _bwrap_command(scratch, drop)
    if kind == "unshare":
        return _unshare_command(drop)
    return []


def _drop_uid() -> None:
    """In the forked child before exec: become uid/gid 65534 with no supplementary groups."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


_PROBE = "import numpy, gymnasium, os, socket; os.listdir({pkg!r}); open('probe', 'w').write('ok'); print(len(socket.if_nameindex()))"


def _probe(kind: str, drop: bool) -> tuple[bool, str, int]:
    """Run a tiny child under ``kind``: (worked, what it said, network interfaces seen)."""
    scratch = Path(tempfile.mkdtemp(prefix="eat-probe-"))
    try:
        if drop and os.geteuid() == 0:
            os.chown(scratch, NOBODY, NOBODY)
        cmd = _wrapper(kind, scratch, drop) + [
            sys.executable,
            "-c",
            _PROBE.format(pkg=str(_PACKAGE_ROOT / "eat_bench")),
        ]
        proc = subprocess.run(
            cmd,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=60,
            env=_child_env(scratch, 1, kind),
            preexec_fn=_drop_uid if kind == "none" and drop else None,
        )
        ok = proc.returncode == 0 and (scratch / "probe").exists()
        out = (proc.stdout + proc.stderr).strip()
        return ok, out[-300:], int(proc.stdout.split()[-1]) if ok and proc.stdout.split() else -1
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        return False, str(err), -1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@functools.cache
def detect_isolation(prefer: str = "auto") -> Isolation:
    """The isolation a sandboxed agent gets here. ``"auto"`` picks the strongest that works
    (bwrap, then unshare, then none); a kind name forces it (``ValueError`` if it does not
    work here, except ``"none"``, which always works)."""
    if prefer not in ("auto", *KINDS):
        raise ValueError(f"unknown isolation {prefer!r}; expected 'auto' or one of {KINDS}")
    root = os.geteuid() == 0
    notes: list[str] = []
    for kind in KINDS if prefer == "auto" else (prefer,):
        if kind != "none" and shutil.which(kind) is None:
            notes.append(f"{kind}: not installed")
            continue
        if kind == "unshare" and not root:
            notes.append("unshare: needs root (no user namespace variant implemented)")
            continue
        for drop in (True, False) if kind != "bwrap" else (True,):
            if kind == "none" and drop and not root:
                continue
            ok, out, interfaces = _probe(kind, drop) if (kind != "none" or drop) else (True, "", -1)
            if ok:
                uid = NOBODY if drop else os.geteuid()
                why = "; ".join(notes)
                detail = {
                    "bwrap": "bubblewrap: read-only /, private /tmp /dev /proc, scratch bound read-write, new net/pid/ipc/uts namespaces, uid 65534",
                    "unshare": "unshare --net --pid, "
                    + (
                        "setpriv to uid 65534"
                        if drop
                        else "uid not dropped (the interpreter is not readable by 65534): RLIMIT_NPROC does not bind"
                    )
                    + "; the filesystem is the host's",
                    "none": "plain subprocess: no network or filesystem isolation; "
                    + ("uid dropped to 65534" if drop else f"running as uid {uid}")
                    + "; limits by deadlines and process-tree polling",
                }[kind]
                if kind != "none" and interfaces > 1:
                    notes.append(f"{kind}: saw {interfaces} network interfaces")
                    break
                return Isolation(
                    kind, kind != "none", uid, kind == "bwrap", detail + (f" (skipped: {why})" if why else "")
                )
            notes.append(f"{kind}{'' if drop else ' (no uid drop)'}: {out or 'probe failed'}")
        if prefer != "auto":
            raise ValueError(f"isolation {kind!r} does not work here: {'; '.join(notes)}")
    raise AssertionError("unreachable: 'none' always works")


def _child_env(scratch: Path, threads: int, kind: str) -> dict[str, str]:
    """A clean environment: no inherited secrets, thread counts pinned, home in the scratch."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": "/tmp" if kind == "bwrap" else str(scratch),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(_PACKAGE_ROOT),
        "MPLCONFIGDIR": str(scratch / ".mpl"),
    }
    env.update({var: str(threads) for var in THREAD_VARS})
    return env


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, threads, resident bytes) for every process we can read."""
    table: dict[int, tuple[int, int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command: state, ppid (field 4), ... num_threads (20), ..., rss pages (24)
        table[int(name)] = (int(fields[1]), int(fields[17]), int(fields[21]) * _PAGE)
    return table


def process_tree(root: int, table: dict[int, tuple[int, int, int]] | None = None) -> list[int]:
    """``root`` and all its descendants (by parent links in /proc)."""
    table = _proc_table() if table is None else table
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    out, todo = [], [root] if root in table else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


class SandboxedAgent:
    """A submitted agent in its own isolated process (see the module docstring).

    ``start`` copies ``submission_dir`` to a fresh scratch folder, spawns the host, imports
    ``entry_point`` (``module:factory``) and calls ``factory(observation_space,
    action_space, env_id)``. ``act`` returns the action validated against
    ``action_space`` (a dict of spaces for the multi-agent track). Every failure raises
    :class:`AgentFailure` and leaves the agent closed."""

    def __init__(
        self,
        submission_dir: str | Path,
        entry_point: str,
        observation_space: Any,
        action_space: Any,
        env_id: str,
        limits: Limits = Limits(),
        isolation: str = "auto",
        scratch_root: str | Path | None = None,
    ) -> None:
        self.submission_dir = Path(submission_dir)
        if not self.submission_dir.is_dir():
            raise FileNotFoundError(f"submission folder {self.submission_dir} does not exist")
        module, sep, factory = entry_point.partition(":")
        if not sep or not module or not factory:
            raise ValueError(f"entry point {entry_point!r} must be 'module:factory'")
        self.entry_point = entry_point
        self.observation_space = observation_space
        self.action_space = action_space
        self.env_id = env_id
        self.limits = limits
        self.isolation = detect_isolation(isolation)
        self.supports_batch = False
        """Whether the agent has ``act_batch`` (known after :meth:`start`)."""
        self.scratch_root = Path(scratch_root) if scratch_root is not None else None
        self.scratch: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._req = self._resp = -1
        self._encoder = wire.Encoder(allow_pickle=True)
        self._decoder = wire.Decoder(allow_pickle=False, max_payload=MAX_ACTION_BYTES)
        self._stderr_tail: collections.deque[bytes] = collections.deque()
        self._stderr_size = 0
        self._lock = threading.Lock()  # serialises killing
        self._tail_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failure: AgentFailure | None = None
        self._watch_reason: tuple[str, str] | None = None
        self._born = 0.0
        self._episode_start: float | None = None
        self._closed = False
        self.peak_memory_bytes = 0
        self.peak_processes = 0

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> SandboxedAgent:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Spawn the sandboxed host, import the entry point, call the factory. On failure
        the agent is closed (tree killed, scratch removed) before the error propagates."""
        if self._proc is not None or self._closed:
            raise RuntimeError("a SandboxedAgent starts once")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        drop = self.isolation.uid == NOBODY
        self.scratch = Path(tempfile.mkdtemp(prefix="eat-agent-", dir=self.scratch_root))
        shutil.copytree(self.submission_dir, self.scratch, symlinks=True, dirs_exist_ok=True)
        if drop and os.geteuid() == 0:
            for path in [self.scratch, *self.scratch.rglob("*")]:
                os.lchown(path, NOBODY, NOBODY)
        cmd = _wrapper(self.isolation.kind, self.scratch, drop) + [
            sys.executable,
            "-m",
            "eat_bench.leaderboard.agent_host",
        ]
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        for fd in (req_w, resp_r):
            try:
                import fcntl

                fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: room for big observations
            except OSError:
                pass
        limits = self.limits
        preexec_drop = drop and self.isolation.kind == "none"
        # The kernel's bound is per uid (shared by concurrent sandboxes), so it is a looser
        # backstop; the watchdog enforces max_processes on this agent's tree exactly.
        nproc = NPROC_FACTOR * limits.max_processes

        def preexec() -> None:  # runs in the child between fork and exec
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            cpu = int(limits.total_s) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            if preexec_drop:
                _drop_uid()

        self._born = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=req_r,
                stdout=resp_w,
                stderr=subprocess.PIPE,
                cwd=self.scratch,
                env=_child_env(self.scratch, limits.threads, self.isolation.kind),
                preexec_fn=preexec,
                start_new_session=True,
            )
        finally:
            os.close(req_r)
            os.close(resp_w)
        self._req, self._resp = req_w, resp_r
        os.set_blocking(req_w, False)
        os.set_blocking(resp_r, False)
        for target in (self._drain_stderr, self._watch):
            thread = threading.Thread(target=target, daemon=True, name=f"sandbox-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        spec = {
            "entry_point": self.entry_point,
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "env_id": self.env_id,
        }
        payload = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        deadline = self._born + min(limits.startup_s, limits.total_s)
        _, ready = self._call(
            wire.INIT,
            [wire.HEADER.pack(wire.MAGIC, wire.INIT, 0, 0, len(payload)), payload],
            deadline,
            "startup-timeout",
            wire.READY,
            "startup",
        )
        self.supports_batch = bytes(ready[:1]) == b"\x01"

    def reset(self, seed: int | None) -> None:
        """Start an episode: calls the agent's ``reset(seed)`` if it has one."""
        self._check_alive()
        now = time.monotonic()
        self._episode_start = now
        payload = struct.pack("<?q", seed is not None, 0 if seed is None else int(seed))
        deadline, reason = self._deadline(now)
        self._call(
            wire.RESET,
            [wire.HEADER.pack(wire.MAGIC, wire.RESET, 0, 0, len(payload)), payload],
            deadline,
            reason,
            wire.DONE,
            "reset",
        )

    def act(self, observation: Any, info: Mapping[str, Any] | None) -> Any:
        """The agent's action for ``observation``/``info``, validated against the action space."""
        self._check_alive()
        deadline, reason = self._deadline(time.monotonic())
        try:
            parts = self._encoder.encode(wire.ACT, {"o": observation, "i": {} if info is None else info})
        except wire.WireError as err:
            raise ValueError(f"cannot send this observation/info to the agent: {err}") from None
        action = self._receive(*self._call(wire.ACT, parts, deadline, reason, wire.ACTION, "act"))
        try:
            return validate_action(self.action_space, action)
        except ValueError as err:
            self._fail("malformed-action", str(err))

    def _receive(self, schema: bytes | None, payload: bytearray) -> Any:
        """Decode an ACTION message (a bad one fails the agent with "protocol")."""
        try:
            if schema is not None:
                self._decoder.set_schema(schema)
            return self._decoder.decode(payload)
        except wire.WireError as err:
            self._fail("protocol", f"undecodable action message: {err}")

    def act_batch(self, observations: list[Any], infos: list[Mapping[str, Any]]) -> list[Any]:
        """The agent's ``act_batch`` over several episodes at once (one round trip), each
        action validated; only when :attr:`supports_batch`. One decision deadline per call."""
        self._check_alive()
        if not self.supports_batch:
            raise RuntimeError("this agent has no act_batch(observations, infos)")
        deadline, reason = self._deadline(time.monotonic())
        tree = {"o": dict(enumerate(observations)), "i": {k: {} if v is None else v for k, v in enumerate(infos)}}
        try:
            parts = self._encoder.encode(wire.ACT_BATCH, tree)
        except wire.WireError as err:
            raise ValueError(f"cannot send these observations/infos to the agent: {err}") from None
        actions = self._receive(*self._call(wire.ACT_BATCH, parts, deadline, reason, wire.ACTION, "act_batch"))
        if not isinstance(actions, Mapping) or sorted(actions) != list(range(len(observations))):
            self._fail("malformed-action", f"act_batch must return one action per observation ({len(observations)})")
        try:
            return [validate_action(self.action_space, actions[k]) for k in range(len(observations))]
        except ValueError as err:
            self._fail("malformed-action", str(err))

    def close(self) -> None:
        """Kill the whole process tree and remove the scratch folder. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._kill()
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        for fd in (self._req, self._resp):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._req = self._resp = -1
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    @property
    def stderr_tail(self) -> str:
        """The last ``STDERR_TAIL_BYTES`` the agent wrote to stdout/stderr."""
        with self._tail_lock:
            data = b"".join(self._stderr_tail)
        return data[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")

    @property
    def pid(self) -> int | None:
        """The pid of the outermost child process (the wrapper, or the host under "none")."""
        return None if self._proc is None else self._proc.pid

    # -- internals ---------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._proc is None or self._closed:
            raise RuntimeError("the agent is not running: call start() first (or it was closed)")

    def _deadline(self, now: float) -> tuple[float, str]:
        """The earliest deadline for the next call, and the reason if it passes."""
        lim = self.limits
        candidates = [(now + lim.decision_s, "decision-timeout"), (self._born + lim.total_s, "total-timeout")]
        if self._episode_start is not None:
            candidates.append((self._episode_start + lim.episode_s, "episode-timeout"))
        deadline, reason = min(candidates)
        if deadline <= now:
            self._fail(reason, f"the {reason.split('-')[0]} limit had already passed before the call")
        return deadline, reason

    def _call(
        self, msg_type: int, parts: list[Any], deadline: float, timeout_reason: str, expect: int, what: str
    ) -> tuple[bytes | None, bytearray]:
        """Send one request and wait for its reply until ``deadline``."""
        limit_s = deadline - time.monotonic()
        try:
            wire.write_frame(self._req, parts, deadline)
            reply, schema, payload = wire.read_frame(self._resp, deadline, max_payload=MAX_ACTION_BYTES)
        except wire.WireTimeout:
            if what == "startup":
                timeout_reason = "total-timeout" if self.limits.total_s < self.limits.startup_s else "startup-timeout"
            self._fail(timeout_reason, f"{what} did not answer within {max(limit_s, 0):.2f} s")
        except wire.WireClosed:
            self._fail_exited(what)
        except wire.WireError as err:
            self._fail("protocol", f"{what}: {err}")
        if reply == wire.ERROR:
            import json

            try:
                info = json.loads(bytes(payload))
                reason, detail = str(info["reason"]), str(info["detail"])
            except (ValueError, KeyError, TypeError):
                reason, detail = "protocol", "an unreadable error message"
            self._fail(reason if reason in FAILURE_REASONS else "protocol", detail)
        if reply != expect:
            self._fail("protocol", f"{what}: expected message {expect}, got {reply}")
        return schema, payload

    def _fail_exited(self, what: str) -> None:
        """The pipe closed: report the watchdog's reason, or how the process ended."""
        self._kill()
        if self._watch_reason is not None:
            self._fail(*self._watch_reason)
        code = self._proc.poll() if self._proc is not None else None
        if code is not None and code > 128 and self.isolation.kind != "none":
            code = 128 - code  # the wrapper reports a signal as 128 + its number
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}" + (
                " (out of memory?)" if -code == signal.SIGKILL else ""
            )
        else:
            how = f"exited with status {code}"
        self._fail("crash", f"the agent process {how} during {what}")

    def _fail(self, reason: str, detail: str) -> None:
        """Kill the tree, remember and raise the failure (with the agent's last stderr)."""
        self._kill()
        for thread in self._threads[:1]:  # the stderr drain ends at EOF, once the tree is dead
            thread.join(timeout=0.5)
        tail = self.stderr_tail.strip()
        if tail:
            detail = f"{detail}\n--- agent stderr (tail) ---\n{tail[-4000:]}"
        self._failure = AgentFailure(reason, detail)
        raise self._failure

    def _kill(self) -> None:
        """SIGKILL the whole process tree (stopping it first so it cannot fork away)."""
        proc = self._proc
        if proc is None:
            return
        with self._lock:
            if proc.poll() is None:
                seen: set[int] = set()
                for _ in range(5):  # freeze, rescan until no new members appear
                    members = [p for p in process_tree(proc.pid) if p not in seen]
                    if not members:
                        break
                    for pid in members:
                        try:
                            os.kill(pid, signal.SIGSTOP)
                        except OSError:
                            pass
                    seen.update(members)
                for pid in seen:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass

    def _drain_stderr(self) -> None:
        stream = self._proc.stderr if self._proc is not None else None
        if stream is None:
            return
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._tail_lock:
                self._stderr_tail.append(chunk)
                self._stderr_size += len(chunk)
                while self._stderr_size - len(self._stderr_tail[0]) > STDERR_TAIL_BYTES and len(self._stderr_tail) > 1:
                    self._stderr_size -= len(self._stderr_tail.popleft())

    def _watch(self) -> None:
        """Poll the process tree's memory and size; enforce the total wall clock."""
        lim = self.limits
        allowance = {"bwrap": 2, "unshare": 1, "none": 0}[self.isolation.kind]  # the wrapper processes
        proc = self._proc
        while not self._stop.wait(POLL_S):
            if proc is None or proc.poll() is not None:
                return
            table = _proc_table()
            members = process_tree(proc.pid, table)
            rss = sum(table[p][2] for p in members)
            tasks = sum(table[p][1] for p in members)
            self.peak_memory_bytes = max(self.peak_memory_bytes, rss)
            self.peak_processes = max(self.peak_processes, tasks - allowance)
            reason = None
            if rss > lim.memory_bytes:
                reason = (
                    "memory",
                    f"the agent's processes used {rss / 2**20:.0f} MiB resident, over the {lim.memory_bytes / 2**20:.0f} MiB limit",
                )
            elif tasks - allowance >= lim.max_processes:
                reason = (
                    "processes",
                    f"the agent reached {tasks - allowance} processes/threads, the limit is {lim.max_processes}",
                )
            elif time.monotonic() - self._born > lim.total_s:
                reason = ("total-timeout", f"the agent process outlived the {lim.total_s:.0f} s total limit")
            if reason is not None:
                self._watch_reason = reason
                self._kill()
                return


# -- action validation ---------------------------------------------------------------------


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:120]}{'...' if len(text) > 120 else ''}"


def _numeric(value: Any, space: Any, integral: bool) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, Mapping):
        raise ValueError(f"expected a number or array for {space}, got {_describe(value)}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"expected numbers for {space}, got dtype {arr.dtype} ({_describe(value)})")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"action for {space} contains NaN or inf: {_describe(value)}")
    if integral and arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"expected integers for {space}, got {_describe(value)}")
    shape = tuple(space.shape)
    if arr.shape != shape:
        if arr.size != math.prod(shape):
            raise ValueError(f"action of shape {arr.shape} for {space}, which needs shape {shape}")
        arr = arr.reshape(shape)
    return arr


def validate_action(space: Any, action: Any) -> Any:
    """``action`` cast to ``space``'s dtype and shape; ``ValueError`` naming what is wrong.
    ``space`` may be a dict of spaces (multi-agent), then ``action`` is a dict too."""
    if isinstance(space, (Mapping, spaces.Dict)):
        subspaces = space.spaces if isinstance(space, spaces.Dict) else space
        if not isinstance(action, Mapping):
            raise ValueError(f"expected a dict with keys {sorted(map(str, subspaces))}, got {_describe(action)}")
        missing = [k for k in subspaces if k not in action]
        extra = [k for k in action if k not in subspaces]
        if missing or extra:
            raise ValueError(f"action keys differ from the space's: missing {missing}, unexpected {extra}")
        out = {}
        for key, sub in subspaces.items():
            try:
                out[key] = validate_action(sub, action[key])
            except ValueError as err:
                raise ValueError(f"[{key}] {err}") from None
        return out
    if isinstance(space, spaces.Discrete):
        if isinstance(action, (bool, np.bool_)):
            raise ValueError(f"expected an int for {space}, got {_describe(action)}")
        arr = _numeric(action, space, integral=True)
        value = np.int64(arr.item())
        if not space.start <= value < space.start + space.n:
            raise ValueError(f"action {value} out of range for {space}")
        return value
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        arr = _numeric(action, space, integral=not isinstance(space, spaces.Box)).astype(space.dtype)
        if not space.contains(arr):
            raise ValueError(f"action {_describe(arr)} is outside {space}")
        return arr
    if not space.contains(action):
        raise ValueError(f"action {_describe(action)} is not in {space}")
    return action
