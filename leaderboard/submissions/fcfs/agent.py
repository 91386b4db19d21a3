"""eat-bench's `fcfs` heuristic as a leaderboard submission (acts from the scheduler view)."""

from eat_bench.leaderboard.entries import heuristic_agent


def make_agent(observation_space, action_space, env_id):
    return heuristic_agent("fcfs", observation_space, action_space, env_id)
