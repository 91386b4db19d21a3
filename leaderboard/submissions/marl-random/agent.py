"""eat-bench's `random` multi-agent baseline as a leaderboard submission."""

from eat_bench.leaderboard.entries import multi_agent


def make_agent(observation_space, action_space, env_id):
    return multi_agent("random", observation_space, action_space, env_id)
