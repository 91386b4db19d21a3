"""EAT and DSAC: the paper's attention-guided diffusion SAC, as SB3 SAC policies (needs the ``rl`` extra).

Not imported by ``import eat_bench`` (it imports torch): ``from eat_bench.baselines.eat import ...``.

Usage::

    import gymnasium as gym
    from stable_baselines3 import SAC
    from eat_bench.baselines.eat import EatPolicy, make_eat_sac

    env = gym.make("EAT-Paper-v0", obs_mode="dict")      # action_mode="continuous" is the default
    model = make_eat_sac(env, seed=0)                    # the paper's hyper-parameters
    model = SAC(EatPolicy, env)                          # or plain SB3, SB3's defaults
    model = SAC("EatPolicy", env)                        # the name works too (see below)

**Architecture** (defaults; the paper's numbers where it gives them):

- *Encoder, EAT* (:class:`AttentionEncoder`): each task row and server row of the dict
  observation becomes a 32-d token (one linear projection per matrix) plus a type
  embedding (task / server) and a slot embedding (its row index); one pre-norm block of
  4-head self-attention + Mish MLP ("a self-attention layer over the state's rows"),
  with padding task rows (``present == 0``, :func:`eat_bench.envs.observation.padding_mask`)
  masked as keys and zeroed on output; readout: the tokens in slot order and the globals,
  flattened and projected (Mish) to a 256-d context. *Encoder, DSAC* (:class:`MlpEncoder`):
  an MLP (256, Mish) over the flattened observation to the 256-d context.
- *Denoiser* (:class:`DiffusionDenoiser`): a conditional DDPM of T = 10 steps over a
  256-d latent. Noise model: an MLP of width 128 (Mish) on ``W_x x_t + W_c context +
  e(t)``, ``e`` a 16-d sinusoidal time embedding through a small MLP. Schedule:
  variance-preserving, ``beta_t = 1 - exp(-0.1/T - 9.9 (2t - 1) / (2 T^2))``
  (:func:`vp_beta_schedule`; alpha_bar_T = 0.0064 at T = 10). Reverse chain from
  x_T ~ N(0, I) with x_0-prediction clipped to [-1, 1] (Ho et al. 2020), batched, in the
  forward pass, differentiable end to end; ``deterministic=True`` runs the mean path
  (x_T = 0, no noise) so deterministic actions are a function of the observation.
- *Head*: linear mean and log-std (clamped to [-20, 2]) of a tanh-squashed Gaussian on
  the latent (SB3's ``SquashedDiagGaussianDistribution``): SAC's action and log-prob.
- *Critics*: SB3's twin ``ContinuousCritic`` (256, 256, Mish) on the observation
  flattened in the env's order (:class:`FlatStateExtractor`), not on the attention
  encoder, as in the paper; the actor's encoder is its own (trained by the actor loss).
- Sizes on ``EAT-Paper-v0`` (Q = 10 tasks x 7, N = 8 servers x 6): EAT actor 211,400
  parameters (encoder 85,264, denoiser 119,968), DSAC actor 223,416, each critic 100,609.
  The paper gives neither the token width nor the noise model's width: 32 and 128 keep an
  EAT training step within 4x plain SAC's (measured 2.8x; width 256 with 64-d tokens:
  8.6x, since the 10 denoising steps then outweigh everything else). All configurable:
  ``policy_kwargs={"encoder_kwargs": {"dim": 64}, "diffusion_kwargs": {"hidden": 256}}``.

**Hyper-parameters** (:data:`PAPER_HYPERPARAMS`, :func:`make_eat_sac`, :func:`make_dsac_sac`,
:func:`make_mlp_sac`): alpha 0.05 fixed (``ent_coef=0.05``), tau 0.005, gamma 0.95,
3-step returns, lr 3e-4, Adam weight decay 0.005 (``optimizer_kwargs``), batch 512,
buffer 1e6. 3-step returns: SB3 2.x's ``NStepReplayBuffer`` for Box observations; SB3
refuses n-step with dict observations, so dict envs get :class:`DictNStepReplayBuffer` (ours).

**Names**: importing this package adds ``"EatPolicy"`` and ``"DsacPolicy"`` to SB3's
``SAC.policy_aliases`` (:func:`register_policy_aliases`), so ``SAC("EatPolicy", env)``
works after ``import eat_bench.baselines.eat``; saved models load with plain ``SAC.load``
(the policy class is stored in the zip and imported from here).

**Observations**: EatPolicy needs ``obs_mode="dict"``; DsacPolicy takes flat or dict
(the MLP sees the same flattened vector either way; flat is what we train it on, since
SB3's own n-step buffer then applies). Works on ``EAT-Paper-v0`` (degree fixed by the
task) and continuous ``EAT-Edge-v0`` (task, degree and steps).
"""

from eat_bench.baselines.eat.buffers import DictNStepReplayBuffer
from eat_bench.baselines.eat.factory import PAPER_HYPERPARAMS, make_dsac_sac, make_eat_sac, make_mlp_sac, paper_kwargs
from eat_bench.baselines.eat.networks import (
    AttentionEncoder,
    DiffusionDenoiser,
    FlatStateExtractor,
    MlpEncoder,
    SinusoidalEmbedding,
    vp_beta_schedule,
)
from eat_bench.baselines.eat.policies import DiffusionActor, DsacPolicy, EatPolicy, register_policy_aliases

register_policy_aliases()

__all__ = [
    "PAPER_HYPERPARAMS",
    "AttentionEncoder",
    "DictNStepReplayBuffer",
    "DiffusionActor",
    "DiffusionDenoiser",
    "DsacPolicy",
    "EatPolicy",
    "FlatStateExtractor",
    "MlpEncoder",
    "SinusoidalEmbedding",
    "make_dsac_sac",
    "make_eat_sac",
    "make_mlp_sac",
    "paper_kwargs",
    "register_policy_aliases",
    "vp_beta_schedule",
]
