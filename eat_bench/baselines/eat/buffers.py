"""n-step returns for dict observations (SB3's ``NStepReplayBuffer`` takes Box observations only)."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.buffers import DictReplayBuffer
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

__all__ = ["DictNStepReplayBuffer"]


class DictNStepReplayBuffer(DictReplayBuffer):
    """A ``DictReplayBuffer`` whose samples carry n-step returns.

    For a sampled transition i the return is ``sum_k gamma^k r_{i+k}`` over k = 0..m-1,
    where m <= ``n_steps`` stops after the first transition that ends an episode
    (terminated or truncated) or at the newest transition written (the next slot holds
    older data); the sample's next observation is that of transition i+m-1, its done flag
    is "terminated" there (a truncation bootstraps), and ``discounts = gamma^m`` is the
    bootstrap factor SAC reads from ``DictReplayBufferSamples.discounts``. Vectorised over
    the batch (numpy, no Python loop over samples)."""

    def __init__(self, *args, n_steps: int = 3, gamma: float = 0.99, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        self.n_steps = n_steps
        self.gamma = gamma

    def _get_samples(  # type: ignore[override]
        self, batch_inds: np.ndarray, env: VecNormalize | None = None
    ) -> DictReplayBufferSamples:
        envs = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        k = np.arange(self.n_steps)
        idx = (batch_inds[:, None] + k) % self.buffer_size  # (B, n)
        newest = (self.pos - 1) % self.buffer_size
        ends = (self.dones[idx, envs[:, None]] > 0) | (self.timeouts[idx, envs[:, None]] > 0) | (idx == newest)
        ends[:, -1] = True
        last = ends.argmax(axis=1)  # first k at which the n-step window stops
        keep = k[None, :] <= last[:, None]
        discount_k = self.gamma ** k.astype(np.float32)
        rewards = self._normalize_reward(self.rewards[idx, envs[:, None]], env)
        returns = (rewards * discount_k * keep).sum(axis=1, keepdims=True).astype(np.float32)
        discounts = (self.gamma ** (last + 1).astype(np.float32))[:, None].astype(np.float32)
        end = idx[np.arange(len(batch_inds)), last]
        dones = (self.dones[end, envs] * (1.0 - self.timeouts[end, envs]))[:, None].astype(np.float32)
        obs = self._normalize_obs({key: o[batch_inds, envs] for key, o in self.observations.items()}, env)
        next_obs = self._normalize_obs({key: o[end, envs] for key, o in self.next_observations.items()}, env)
        return DictReplayBufferSamples(
            observations={key: self.to_torch(o) for key, o in obs.items()},
            actions=self.to_torch(self.actions[batch_inds, envs]),
            next_observations={key: self.to_torch(o) for key, o in next_obs.items()},
            dones=self.to_torch(dones),
            rewards=self.to_torch(returns),
            discounts=self.to_torch(discounts),
        )
