"""The torch modules of EAT and DSAC: state encoders, the DDPM denoiser, the flat critic input.

Encoders are SB3 :class:`BaseFeaturesExtractor`\\ s (they turn an observation into a
context vector), so SB3's ``extract_features`` preprocessing applies to them unchanged.
"""

from __future__ import annotations

import math

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from eat_bench.envs.observation import TASK_COLUMNS

__all__ = [
    "AttentionEncoder",
    "DiffusionDenoiser",
    "FlatStateExtractor",
    "MlpEncoder",
    "SinusoidalEmbedding",
    "flat_obs_dim",
    "flatten_obs",
    "vp_beta_schedule",
]

OBS_KEYS = ("tasks", "servers", "globals")
"""The dict observation's keys, in the env's flat order (tasks, servers, globals)."""

PRESENT = TASK_COLUMNS.index("present")


def flat_obs_dim(observation_space: spaces.Space) -> int:
    """Number of values of the flattened observation (dict or Box)."""
    if isinstance(observation_space, spaces.Dict):
        return sum(int(math.prod(observation_space[k].shape)) for k in OBS_KEYS)
    return int(math.prod(observation_space.shape))


def flatten_obs(obs: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
    """(B, D): a dict observation concatenated in the env's flat order, or a Box one flattened."""
    if isinstance(obs, dict):
        return th.cat([obs[k].flatten(1) for k in OBS_KEYS], dim=1)
    return obs.flatten(1)


class FlatStateExtractor(BaseFeaturesExtractor):
    """The critics' input: the observation flattened (dict keys in the env's flat order).

    The paper's critics are MLPs on the raw state, not on the attention encoder."""

    def __init__(self, observation_space: spaces.Space) -> None:
        super().__init__(observation_space, flat_obs_dim(observation_space))

    def forward(self, observations: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
        return flatten_obs(observations)


class MlpEncoder(BaseFeaturesExtractor):
    """DSAC's encoder: an MLP (Mish) over the flattened observation -> context vector."""

    def __init__(self, observation_space: spaces.Space, context_dim: int = 256, hidden: int = 256) -> None:
        super().__init__(observation_space, context_dim)
        self.net = nn.Sequential(
            nn.Linear(flat_obs_dim(observation_space), hidden),
            nn.Mish(),
            nn.Linear(hidden, context_dim),
            nn.Mish(),
        )

    def forward(self, observations: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
        return self.net(flatten_obs(observations))


class _AttentionBlock(nn.Module):
    """Pre-norm transformer block: masked multi-head self-attention, then an MLP; both residual."""

    def __init__(self, dim: int, heads: int, ff_mult: int = 2) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        # ReLU here (Mish elsewhere): the block runs on every token, and Mish costs ~20x a ReLU on CPU.
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.ReLU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x: th.Tensor, key_padding_mask: th.Tensor) -> th.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False)[0]
        return x + self.ff(self.norm2(x))


class AttentionEncoder(BaseFeaturesExtractor):
    """EAT's encoder: self-attention over the task and server rows of a dict observation.

    Each task row and each server row is projected to a ``dim``-d token (one linear map
    per matrix), plus a type embedding (task / server) and a slot embedding (its row
    index: the action scores slots, so the encoder must know which row is which).
    ``layers`` pre-norm blocks of ``heads``-head self-attention follow; padding task rows
    (``present == 0``) are masked out as keys and their output tokens are zeroed, so a
    padding row's features cannot change the context. Readout: each token projected to
    ``slot_dim`` values, the tokens in slot order flattened, concatenated with the globals
    and projected (Mish) to ``context_dim``; a learned pooling that keeps which slot holds
    what (a mean pool would not) at a fraction of flattening the full tokens."""

    def __init__(
        self,
        observation_space: spaces.Dict,
        context_dim: int = 256,
        dim: int = 32,
        heads: int = 4,
        layers: int = 1,
        slot_dim: int = 16,
    ) -> None:
        if not isinstance(observation_space, spaces.Dict) or set(observation_space.spaces) != set(OBS_KEYS):
            raise ValueError(
                f"AttentionEncoder needs the dict observation {{'tasks', 'servers', 'globals'}} "
                f"(make the env with obs_mode='dict'), got {observation_space}"
            )
        super().__init__(observation_space, context_dim)
        q, ft = observation_space["tasks"].shape
        n, fs = observation_space["servers"].shape
        g = observation_space["globals"].shape[0]
        self.num_tasks = q
        self.task_proj = nn.Linear(ft, dim)
        self.server_proj = nn.Linear(fs, dim)
        self.type_embed = nn.Parameter(th.zeros(2, dim))
        self.slot_embed = nn.Parameter(th.zeros(q + n, dim))
        nn.init.normal_(self.type_embed, std=0.02)
        nn.init.normal_(self.slot_embed, std=0.02)
        self.blocks = nn.ModuleList(_AttentionBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.slot_proj = nn.Linear(dim, slot_dim)
        self.readout = nn.Sequential(nn.Linear((q + n) * slot_dim + g, context_dim), nn.Mish())

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        tasks, servers = observations["tasks"], observations["servers"]
        batch = tasks.shape[0]
        pad = tasks[..., PRESENT] == 0.0  # (B, Q): True = padding row
        tokens = th.cat(
            [self.task_proj(tasks) + self.type_embed[0], self.server_proj(servers) + self.type_embed[1]], dim=1
        )
        tokens = tokens + self.slot_embed
        # Server tokens are never padding, so no row of the mask is all True (no NaN).
        mask = th.cat([pad, th.zeros(batch, servers.shape[1], dtype=th.bool, device=pad.device)], dim=1)
        for block in self.blocks:
            tokens = block(tokens, mask)
        slots = self.slot_proj(self.norm(tokens)).masked_fill(mask.unsqueeze(-1), 0.0)
        return self.readout(th.cat([slots.flatten(1), observations["globals"]], dim=1))


class SinusoidalEmbedding(nn.Module):
    """The transformer's sinusoidal embedding of a (diffusion) step index."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", th.exp(-math.log(10_000.0) * th.arange(half) / max(half - 1, 1)), False)

    def forward(self, t: th.Tensor) -> th.Tensor:
        angles = t.float().unsqueeze(-1) * self.freqs
        return th.cat([angles.sin(), angles.cos()], dim=-1)


def vp_beta_schedule(steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> th.Tensor:
    """The variance-preserving schedule discretised to ``steps`` (Song et al. 2021, as used by
    Diffusion-QL and the paper's DSAC for few steps): ``beta_t = 1 - exp(-beta_min/T -
    (beta_max - beta_min)(2t - 1)/(2T^2))``, t = 1..T. With T = 10, alpha_bar_T = 0.0064:
    the chain starts from almost pure noise, which a linear 1e-4..0.02 schedule would not."""
    t = th.arange(1, steps + 1, dtype=th.float64)
    alpha = th.exp(-beta_min / steps - 0.5 * (beta_max - beta_min) * (2 * t - 1) / steps**2)
    return (1.0 - alpha).float()


class DiffusionDenoiser(nn.Module):
    """A conditional DDPM that generates a ``latent_dim`` latent from a context vector.

    The noise model eps(x_t, t, c) is an MLP (``hidden`` wide, Mish): its first layer is
    ``W_x x_t + W_c c + e(t)``, with ``e(t)`` an MLP of the sinusoidal embedding of t. The
    context and time parts do not depend on x_t, so they are computed once per forward
    for all T steps: each denoising step costs three matrix products on the batch.

    Reverse chain (Ho et al. 2020): x_T ~ N(0, I); for t = T..1, x0_hat = (x_t -
    sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t), clipped to [-clip, clip]; x_{t-1} =
    posterior mean(x0_hat, x_t) + sigma_t z (no noise at t = 1). The whole batch moves
    through the chain together; only the T steps are a Python loop. The chain is
    differentiable: SAC's actor loss trains the noise model through every step. With
    ``deterministic=True`` the chain starts at x_T = 0 and adds no noise (the mean path)."""

    def __init__(
        self,
        context_dim: int,
        latent_dim: int = 256,
        hidden: int = 128,
        steps: int = 10,
        time_dim: int = 16,
        clip: float = 1.0,
        beta_min: float = 0.1,
        beta_max: float = 10.0,
    ) -> None:
        super().__init__()
        self.latent_dim, self.steps, self.clip = latent_dim, steps, clip
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(time_dim), nn.Linear(time_dim, 2 * time_dim), nn.Mish(), nn.Linear(2 * time_dim, hidden)
        )
        self.cond = nn.Linear(context_dim, hidden)
        self.inp = nn.Linear(latent_dim, hidden, bias=False)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, latent_dim)
        self.act = nn.Mish()
        betas = vp_beta_schedule(steps, beta_min, beta_max).double()
        alphas = 1.0 - betas
        abar = th.cumprod(alphas, 0)
        abar_prev = th.cat([th.ones(1, dtype=th.float64), abar[:-1]])
        buffers = {
            "betas": betas,
            "sqrt_recip_abar": (1.0 / abar).sqrt(),
            "sqrt_recipm1_abar": (1.0 / abar - 1.0).sqrt(),
            "post_c0": betas * abar_prev.sqrt() / (1.0 - abar),  # coefficient of x0_hat
            "post_ct": (1.0 - abar_prev) * alphas.sqrt() / (1.0 - abar),  # coefficient of x_t
            "post_std": (betas * (1.0 - abar_prev) / (1.0 - abar)).sqrt(),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)
        # The same coefficients as Python floats: scalar arithmetic on a batch tensor is
        # cheaper with a float than with a 0-d tensor (no broadcasting kernel, no indexing).
        self._coef = [
            tuple(
                float(buffers[k][i]) for k in ("sqrt_recip_abar", "sqrt_recipm1_abar", "post_c0", "post_ct", "post_std")
            )
            for i in range(steps)
        ]

    def forward(self, context: th.Tensor, deterministic: bool = False) -> th.Tensor:
        """(B, latent_dim) latent x_0 for a (B, context_dim) context."""
        batch = context.shape[0]
        cond = self.cond(context)  # (B, H), shared by all steps
        time = self.time_mlp(th.arange(self.steps, device=context.device))  # (T, H); row i is t = i + 1
        if deterministic:
            x = context.new_zeros(batch, self.latent_dim)
        else:  # one draw for x_T and every step's noise
            noise = th.randn(self.steps, batch, self.latent_dim, device=context.device, dtype=context.dtype)
            x = noise[0]
        for i in reversed(range(self.steps)):
            recip, recipm1, c0, ct, std = self._coef[i]
            eps = self.out(self.act(self.mid(self.act(self.inp(x) + (cond + time[i])))))
            x0 = th.add(x * recip, eps, alpha=-recipm1).clamp(-self.clip, self.clip)
            x = th.add(x0 * c0, x, alpha=ct)
            if i > 0 and not deterministic:
                x = th.add(x, noise[i], alpha=std)
        return x
