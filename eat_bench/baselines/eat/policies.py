"""EAT and DSAC as SB3 SAC policies: a diffusion actor over an encoder, twin Mish critics on the flat state."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import LOG_STD_MAX, LOG_STD_MIN, SACPolicy
from torch import nn

from eat_bench.baselines.eat.networks import AttentionEncoder, DiffusionDenoiser, FlatStateExtractor, MlpEncoder

__all__ = ["DiffusionActor", "DsacPolicy", "EatPolicy", "register_policy_aliases"]

DIFFUSION_DEFAULTS: dict[str, Any] = {
    "latent_dim": 256,
    "hidden": 128,
    "steps": 10,
    "time_dim": 16,
    "clip": 1.0,
    "beta_min": 0.1,
    "beta_max": 10.0,
}
"""The denoiser's defaults: the paper's 10 DDPM steps and 256-d latent; the noise model's
width (the paper does not give it) is 128, Mish. Width 256 costs 8.6x plain SAC per training
step on CPU against 3.7x at 128 (with the encoder at 32-d tokens): ``benchmarks/agent_throughput.py``."""


class DiffusionActor(BasePolicy):
    """SAC's actor with a diffusion model in front of the Gaussian head.

    obs -> ``features_extractor`` (the encoder: attention for EAT, MLP for DSAC) -> context
    -> :class:`DiffusionDenoiser` (reverse DDPM chain) -> latent -> linear mean and log-std
    -> tanh-squashed Gaussian (SB3's ``SquashedDiagGaussianDistribution``): the action and
    its log-probability, so SAC's entropy term applies unchanged. The log-probability is
    that of the Gaussian head given the latent: the chain's noise is a reparameterised
    input, as in the paper. Same interface as SB3's ``Actor`` (no gSDE)."""

    action_space: spaces.Box

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        diffusion_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
            squash_output=True,
        )
        self.features_dim = features_dim
        self.diffusion_kwargs = {**DIFFUSION_DEFAULTS, **(diffusion_kwargs or {})}
        self.use_sde = False
        self.denoiser = DiffusionDenoiser(features_dim, **self.diffusion_kwargs)
        latent = self.diffusion_kwargs["latent_dim"]
        action_dim = get_action_dim(action_space)
        self.action_dist = SquashedDiagGaussianDistribution(action_dim)
        self.mu = nn.Linear(latent, action_dim)
        self.log_std = nn.Linear(latent, action_dim)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            features_extractor=self.features_extractor,
            features_dim=self.features_dim,
            diffusion_kwargs=self.diffusion_kwargs,
        )
        return data

    def latent(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """(B, latent_dim): the denoiser's output for a batch of observations."""
        return self.denoiser(self.extract_features(obs, self.features_extractor), deterministic)

    def get_action_dist_params(
        self, obs: PyTorchObs, deterministic: bool = False
    ) -> tuple[th.Tensor, th.Tensor, dict[str, th.Tensor]]:
        latent = self.latent(obs, deterministic)
        log_std = th.clamp(self.log_std(latent), LOG_STD_MIN, LOG_STD_MAX)
        return self.mu(latent), log_std, {}

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        mean, log_std, _ = self.get_action_dist_params(obs, deterministic)
        return self.action_dist.actions_from_params(mean, log_std, deterministic=deterministic)

    def action_log_prob(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        mean, log_std, _ = self.get_action_dist_params(obs)
        return self.action_dist.log_prob_from_params(mean, log_std)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)

    def reset_noise(self, batch_size: int = 1) -> None:
        raise NotImplementedError("the diffusion actor does not support gSDE")


class _DiffusionSACPolicy(SACPolicy):
    """A SAC policy whose actor is :class:`DiffusionActor` over ``encoder_class``.

    The critics are SB3's twin ``ContinuousCritic``\\ s on the flattened observation
    (:class:`FlatStateExtractor`), ``net_arch`` wide (default 256, 256) with
    ``activation_fn`` (default Mish), as in the paper. The actor keeps its own encoder
    (``share_features_extractor`` must stay False)."""

    default_encoder: type[BaseFeaturesExtractor] = MlpEncoder

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Mish,
        encoder_class: type[BaseFeaturesExtractor] | None = None,
        encoder_kwargs: dict[str, Any] | None = None,
        diffusion_kwargs: dict[str, Any] | None = None,
        features_extractor_class: type[BaseFeaturesExtractor] = FlatStateExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 2,
        share_features_extractor: bool = False,
        use_sde: bool = False,
    ) -> None:
        if use_sde:
            raise ValueError(f"{type(self).__name__} does not support gSDE (use_sde=True)")
        if share_features_extractor:
            raise ValueError(f"{type(self).__name__}: the actor's encoder is not the critics' input")
        # Read by make_actor(), which SACPolicy.__init__ calls through _build().
        self.encoder_class = encoder_class or self.default_encoder
        self.encoder_kwargs = dict(encoder_kwargs or {})
        self.diffusion_kwargs = {**DIFFUSION_DEFAULTS, **(diffusion_kwargs or {})}
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            n_critics=n_critics,
            share_features_extractor=False,
        )

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> DiffusionActor:
        encoder = self.encoder_class(self.observation_space, **self.encoder_kwargs)
        return DiffusionActor(
            self.observation_space,
            self.action_space,
            features_extractor=encoder,
            features_dim=encoder.features_dim,
            diffusion_kwargs=self.diffusion_kwargs,
            normalize_images=self.normalize_images,
        ).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("use_sde", "log_std_init", "use_expln", "clip_mean"):
            data.pop(key, None)
        data.update(
            encoder_class=self.encoder_class,
            encoder_kwargs=self.encoder_kwargs,
            diffusion_kwargs=self.diffusion_kwargs,
        )
        return data


class EatPolicy(_DiffusionSACPolicy):
    """EAT: attention over the dict observation's task and server rows (:class:`AttentionEncoder`),
    the diffusion actor, twin Mish critics on the flat state. Needs ``obs_mode="dict"``."""

    default_encoder = AttentionEncoder


class DsacPolicy(_DiffusionSACPolicy):
    """DSAC (the paper's ablation): EAT without attention, an MLP encoder (:class:`MlpEncoder`)
    over the flattened observation. Takes a flat (``obs_mode="flat"``) or a dict observation."""

    default_encoder = MlpEncoder


def register_policy_aliases() -> None:
    """Make ``SAC("EatPolicy", env)`` and ``SAC("DsacPolicy", env)`` work (and ``SAC.load`` of
    either): adds both names to SB3's ``SAC.policy_aliases``. Idempotent; done on import of
    :mod:`eat_bench.baselines.eat`."""
    SAC.policy_aliases.setdefault("EatPolicy", EatPolicy)
    SAC.policy_aliases.setdefault("DsacPolicy", DsacPolicy)
