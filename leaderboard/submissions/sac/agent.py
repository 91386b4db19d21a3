"""eat-bench's `sac` baseline as a leaderboard submission: the model trained for the
scenario's layout (models/<env id>.zip), else `fcfs` on a layout no model was trained on."""

from pathlib import Path

from eat_bench.leaderboard.entries import model_agent

MODELS = Path(__file__).resolve().parent / "models"


def make_agent(observation_space, action_space, env_id):
    return model_agent(MODELS, observation_space, action_space, env_id, fallback="fcfs")
