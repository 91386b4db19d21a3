"""A plain, list-based implementation of the EAT paper's simulator (SEED_MODEL.md).

This is the yardstick for ``env_throughput.py``: the way a typical research simulator
is written, on purpose without tricks. Nodes and tasks are dicts in Python lists; every
0.1 s tick loops over the nodes decrementing their remaining busy time and flips one
coin for an arrival; the observation is built as a list of lists and turned into a numpy
array; the action is decoded with numpy the way the paper's code maps [-1, 1] to [0, 1].

It follows SEED_MODEL.md: 8 nodes, tick 0.1 s, 32 tasks of which 10 wait at t = 0,
Bernoulli arrivals with p = rate * tick per tick (rate 0.15), queue of 10 visible tasks,
degree k drawn uniformly from {1, 2, 4, 8}, gang scheduling on an idle warm group of
exactly k nodes or else the first k idle nodes (cold start: reload, and every group
touched is broken up), the paper's reward and its episode end. A dispatch does not
advance time; a wait or an invalid action advances one tick.

It follows the paper's simulator on the four rules that ``EAT-Paper-v0`` takes from it
(``PaperRules``, docs/paper_model.md): the step count is the real number
``(a[1] + 1) / 2 * max_steps``, unrounded; the reward's W is the visible queue's mean
wait after the dispatched task has left it; the clock starts at 1 s, the initial queue is
stamped 0 and a task arriving during a tick is stamped at the tick's start (truncation at
1024 s of this clock); of several idle warm groups of k nodes the one holding the lowest
node id is used. ``tests/benchmarks/test_paper_reference.py`` checks it against the env
task by task, on workloads injected with ``reset(options={"workload": ...})``.

``quirks=True`` adds the two bugs of the paper's code that eat-bench does not copy (to
measure their effect, docs/paper_model.md): a node frees only once its remaining time,
decremented by one tick at a time, is <= 0, so a float residue such as +2.8e-15 frees
it one tick late; and launched nodes are labelled before groups are renumbered, so that
groups launched in one tick with equal durations merge into one warm group.

Two choices that make it, if anything, faster than the paper's own code (so that ratios
against it are conservative): random draws come from a seeded ``random.Random`` (cheaper
than numpy's global generator, and reproducible), and the observation is a float32
array flattened to ``(queue_len + num_nodes) * 3`` values (EAT-Paper-v0's flat layout).

Not part of the ``eat_bench`` package; nothing here is imported by it.
"""

from __future__ import annotations

import math
import random

import gymnasium as gym
import numpy as np

STEP_TIME = {1: 0.315, 2: 0.15625, 4: 0.14, 8: 0.1}
"""Seconds per denoising step at each parallel degree k."""
RELOAD_TIME = {1: 24.0, 2: 24.0, 4: 32.0, 8: 30.0}
"""Seconds to (re)load the model on a group of k nodes (cold start)."""


def quality(steps):
    """The paper's image quality after ``steps`` denoising steps."""
    if steps < 5:
        return 0.0
    if steps <= 30:
        return 0.16 * math.log(steps) / math.log(6) - 0.02
    return 0.27


class PaperReferenceEnv(gym.Env):
    """The paper's setting, written plainly. ``step(action)`` returns the usual 5-tuple."""

    def __init__(
        self,
        num_nodes=8,
        queue_len=10,
        num_tasks=32,
        initial_tasks=10,
        rate=0.15,
        tick=0.1,
        max_steps=32,
        degrees=(1, 2, 4, 8),
        time_limit=1024.0,
        step_limit=100_000,
        w_t=250.0,
        w_q=10.0,
        w_tt=1.0,
        clock_start=1.0,
        quirks=False,
        seed=None,
    ):
        self.num_nodes = num_nodes
        self.queue_len = queue_len
        self.num_tasks = num_tasks
        self.initial_tasks = initial_tasks
        self.rate = rate
        self.tick = tick
        self.max_steps = max_steps
        self.degrees = list(degrees)
        self.time_limit = time_limit
        self.step_limit = step_limit
        self.w_t = w_t
        self.w_q = w_q
        self.w_tt = w_tt
        self.clock_start = clock_start
        # quirks: True (both bugs), False, or a set of "late-free" and "merge-groups".
        self.quirks = {"late-free", "merge-groups"} if quirks is True else set(quirks or ())
        self.rng = random.Random(seed)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2 + queue_len,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, ((queue_len + num_nodes) * 3,), dtype=np.float32)
        self.reset(seed=seed)

    # ------------------------------------------------------------------ episode
    def reset(self, seed=None, options=None):
        """A new episode. ``options={"workload": (ticks, degrees)}`` injects one: the
        tick (1, 2, ...) during which each later task arrives, and every task's degree
        (the initial queue's first); otherwise coins and degrees come from the seed."""
        if seed is not None:
            self.rng.seed(seed)
        workload = (options or {}).get("workload")
        if workload is None:
            self.arrival_ticks, self.task_degrees = None, None
        else:
            ticks, degrees = workload
            if len(degrees) != self.num_tasks or len(ticks) != self.num_tasks - self.initial_tasks:
                raise ValueError("workload: one degree per task, one tick per task after the initial queue")
            self.arrival_ticks, self.task_degrees = set(ticks), list(degrees)
        self.ticks = 0
        self.now = 0.0  # the initial queue is stamped 0; the clock then starts at clock_start
        self.step_count = 0
        self.nodes = []
        for i in range(self.num_nodes):
            self.nodes.append({"id": i, "remaining": 0.0, "group": -1, "available": 1})
        self.groups = {}  # group id -> list of node ids that last ran together
        self.next_group = 0
        self.queue = []
        self.arrived = 0
        self.finished = []
        self.launched = []  # (node ids, duration) of this tick's launches (quirks only)
        for _ in range(self.initial_tasks):
            self.new_task(self.now)
        self.now = self.clock_start
        return self.get_obs(), {}

    def new_task(self, stamp):
        k = self.rng.choice(self.degrees) if self.task_degrees is None else self.task_degrees[self.arrived]
        task = {"id": self.arrived, "arrival": stamp, "size": 512 * 512, "k": k}
        self.queue.append(task)
        self.arrived += 1

    # ------------------------------------------------------------------ state
    def get_obs(self):
        rows = []
        for i in range(self.queue_len):
            if i < len(self.queue):
                task = self.queue[i]
                rows.append([task["arrival"], task["size"] / (512 * 512), task["k"]])
            else:
                rows.append([0.0, 0.0, 0.0])
        for node in self.nodes:
            rows.append([node["remaining"], node["group"], node["available"]])
        return np.array(rows, dtype=np.float32).flatten()

    def advance(self):
        """One tick: nodes work, then maybe one task arrives (stamped at the tick's start)."""
        if "merge-groups" in self.quirks:
            self.renumber_launched()
        start = self.now
        self.ticks += 1
        self.now = self.ticks * self.tick + self.clock_start
        done_below = 0.0 if "late-free" in self.quirks else 1e-6 * self.tick  # the quirk: a float residue stays busy
        for node in self.nodes:
            if node["available"] == 0:
                node["remaining"] -= self.tick
                if node["remaining"] <= done_below:
                    node["remaining"] = 0.0
                    node["available"] = 1
        if self.arrived < self.num_tasks:
            if self.arrival_ticks is None:
                arrives = self.rng.random() < self.rate * self.tick
            else:
                arrives = self.ticks in self.arrival_ticks
            if arrives:
                self.new_task(start)

    def renumber_launched(self):
        """The paper's code's group renumbering (quirks): launches of one tick with equal
        durations end up as one group, though they ran different tasks."""
        by_duration = {}
        for chosen, duration in self.launched:
            by_duration.setdefault(duration, []).append(chosen)
        self.launched = []
        for launches in by_duration.values():
            if len(launches) < 2:
                continue
            members = sorted(i for chosen in launches for i in chosen)
            for i in members:
                self.groups.pop(self.nodes[i]["group"], None)
            self.groups[self.next_group] = members
            for i in members:
                self.nodes[i]["group"] = self.next_group
            self.next_group += 1

    def find_nodes(self, k):
        """The idle warm group of exactly k nodes holding the lowest node id, else the
        first k idle nodes."""
        idle = [node["id"] for node in self.nodes if node["available"] == 1]
        if len(idle) < k:
            return None
        best = None
        for members in self.groups.values():
            if len(members) == k and all(self.nodes[i]["available"] == 1 for i in members):
                if best is None or min(members) < min(best):
                    best = members
        return list(best) if best is not None else idle[:k]

    def is_warm(self, chosen):
        group_id = self.nodes[chosen[0]]["group"]
        if group_id < 0 or len(self.groups[group_id]) != len(chosen):
            return False
        return all(self.nodes[i]["group"] == group_id for i in chosen)

    def mean_wait(self):
        visible = self.queue[: self.queue_len]
        if not visible:
            return 0.0
        return sum(self.now - task["arrival"] for task in visible) / len(visible)

    # ------------------------------------------------------------------ step
    def step(self, action):
        self.step_count += 1
        a = (np.asarray(action, dtype=np.float32) + 1.0) / 2.0  # [-1, 1] -> [0, 1]
        reward = 0.0
        dispatched = False
        info = {}
        if a[0] >= 0.5:
            steps = (float(action[1]) + 1.0) * 0.5 * self.max_steps  # real, unrounded
            slot = int(np.argmax(a[2:]))
            if slot < len(self.queue):
                task = self.queue[slot]
                k = task["k"]
                chosen = self.find_nodes(k)
                if chosen is not None:
                    warm = self.is_warm(chosen)
                    service = (0.0 if warm else RELOAD_TIME[k]) + STEP_TIME[k] * steps
                    self.queue.pop(slot)
                    waited = self.mean_wait()  # W once the task has left the queue
                    time_reward = min(10.0, self.w_t / (self.w_tt * waited + (service + self.now - task["arrival"])))
                    reward = time_reward + self.w_q * quality(steps)
                    if not warm:
                        # Break up every group the chosen nodes belonged to.
                        for i in chosen:
                            old = self.nodes[i]["group"]
                            if old >= 0 and old in self.groups:
                                for j in self.groups[old]:
                                    self.nodes[j]["group"] = -1
                                del self.groups[old]
                        self.groups[self.next_group] = list(chosen)
                        for i in chosen:
                            self.nodes[i]["group"] = self.next_group
                        self.next_group += 1
                    for i in chosen:
                        self.nodes[i]["remaining"] = service
                        self.nodes[i]["available"] = 0
                    if "merge-groups" in self.quirks:
                        self.launched.append((list(chosen), service))
                    self.finished.append(
                        {
                            "id": task["id"],
                            "arrival": task["arrival"],
                            "start": self.now,
                            "finish": self.now + service,
                            "steps": steps,
                            "nodes": tuple(chosen),
                            "cold": not warm,
                            "service": service,
                        }
                    )
                    dispatched = True
            if not dispatched:
                info["invalid"] = True
        if not dispatched:
            self.advance()
        terminated = (
            self.arrived >= self.num_tasks
            and len(self.queue) == 0
            and all(node["available"] == 1 for node in self.nodes)
        )
        truncated = not terminated and (self.now >= self.time_limit or self.step_count >= self.step_limit)
        return self.get_obs(), reward, terminated, truncated, info
