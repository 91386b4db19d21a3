"""EAT and DSAC as SB3 SAC policies: shapes, actions in the space, gradients through the
denoising chain, save/load, the padding mask, n-step returns on dict observations, the actor
loss on a fixed batch, and learning (beats random on a tiny scenario)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from stable_baselines3 import SAC  # noqa: E402

import eat_bench  # noqa: E402,F401
from eat_bench.baselines.eat import (  # noqa: E402
    DictNStepReplayBuffer,
    DiffusionActor,
    DsacPolicy,
    EatPolicy,
    make_dsac_sac,
    make_eat_sac,
    vp_beta_schedule,
)
from eat_bench.envs.observation import TASK_COLUMNS  # noqa: E402

torch.set_num_threads(1)

SMALL = {"buffer_size": 2_000, "batch_size": 32, "learning_starts": 64}
PRESENT = TASK_COLUMNS.index("present")


def _env(env_id: str = "EAT-Paper-v0", obs_mode: str = "dict") -> gym.Env:
    return gym.make(env_id, obs_mode=obs_mode, action_mode="continuous")


def _batch(env: gym.Env, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """n observations from a short random rollout (real, partly padded task matrices)."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    while len(rows) < n:
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return {k: torch.as_tensor(np.stack([r[k] for r in rows])) for k in rows[0]}


@pytest.mark.parametrize(
    "env_id, policy, obs_mode",
    [
        ("EAT-Paper-v0", EatPolicy, "dict"),
        ("EAT-Edge-v0", EatPolicy, "dict"),
        ("EAT-Paper-v0", DsacPolicy, "flat"),
        ("EAT-Edge-v0", DsacPolicy, "dict"),
    ],
)
def test_shapes_and_actions_in_space(env_id, policy, obs_mode):
    env = _env(env_id, obs_mode)
    model = SAC(policy, env, seed=0, **SMALL)
    actor = model.policy.actor
    assert isinstance(actor, DiffusionActor)
    obs = _batch(env, 16) if obs_mode == "dict" else torch.as_tensor(np.stack([env.observation_space.sample()] * 16))
    action_dim = env.action_space.shape[0]
    actions, log_prob = actor.action_log_prob(obs)
    assert actions.shape == (16, action_dim) and log_prob.shape == (16,)
    assert torch.isfinite(log_prob).all()
    assert actor.latent(obs).shape == (16, 256)
    q1, q2 = model.policy.critic(obs, actions)
    assert q1.shape == q2.shape == (16, 1)
    (log_prob.mean() + q1.mean()).backward()  # backward through actor and critic
    # Sampled actions, batch and single, lie in the Box.
    for i in range(5):
        single = env.reset(seed=i)[0]
        action, _ = model.predict(single, deterministic=False)
        assert action.shape == (action_dim,) and env.action_space.contains(action.astype(np.float32))
        env.step(action)


def test_paper_hyperparameters():
    env = _env()
    model = make_eat_sac(env, seed=0, buffer_size=1_000)
    assert (model.gamma, model.tau, model.batch_size, model.ent_coef) == (0.95, 0.005, 512, 0.05)
    assert model.learning_rate == pytest.approx(3e-4)
    assert model.actor.optimizer.defaults["weight_decay"] == 0.005
    assert model.critic.optimizer.defaults["weight_decay"] == 0.005
    assert isinstance(model.replay_buffer, DictNStepReplayBuffer) and model.replay_buffer.n_steps == 3
    flat = make_dsac_sac(_env(obs_mode="flat"), seed=0, buffer_size=1_000)
    assert flat.replay_buffer.n_steps == 3 and flat.replay_buffer.gamma == 0.95
    assert model.actor.denoiser.steps == 10
    assert SAC("EatPolicy", env, buffer_size=100).policy.__class__ is EatPolicy
    assert SAC("DsacPolicy", env, buffer_size=100).policy.__class__ is DsacPolicy


def test_noise_schedule():
    betas = vp_beta_schedule(10)
    abar = torch.cumprod(1 - betas, 0)
    assert betas.shape == (10,) and bool((betas[1:] > betas[:-1]).all())
    assert abar[-1].item() == pytest.approx(0.0064, abs=5e-4)  # the chain starts from near-pure noise


def test_training_step_updates_the_denoiser_through_the_chain():
    env = _env()
    model = make_eat_sac(env, seed=0, **{**SMALL, "learning_starts": 200})
    model.learn(200)  # fills the buffer; no gradient step before learning_starts
    denoiser = model.actor.denoiser
    before = {n: p.detach().clone() for n, p in denoiser.named_parameters()}
    # The actor loss alone reaches every parameter of the noise model through the 10 steps.
    obs = model.replay_buffer.sample(32).observations
    actions, log_prob = model.actor.action_log_prob(obs)
    q = torch.min(*model.critic(obs, actions))
    model.actor.optimizer.zero_grad()
    (0.05 * log_prob - q.squeeze(1)).mean().backward()
    for name, p in denoiser.named_parameters():
        assert p.grad is not None and p.grad.abs().sum().item() > 0, name
    model.train(gradient_steps=1, batch_size=32)
    for name, p in denoiser.named_parameters():
        assert not torch.equal(p.detach(), before[name]), f"{name} unchanged by a training step"
    encoder = model.actor.features_extractor
    assert encoder.task_proj.weight.grad is not None


def test_deterministic_and_stochastic_actions():
    env = _env()
    model = SAC(EatPolicy, env, seed=0, **SMALL)
    obs, _ = env.reset(seed=3)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    samples = np.stack([model.predict(obs, deterministic=False)[0] for _ in range(8)])
    assert samples.std(axis=0).max() > 1e-3  # stochastic actions differ
    assert not np.allclose(samples[0], a1)


def test_save_load_round_trip(tmp_path):
    env = _env("EAT-Edge-v0")
    model = make_eat_sac(env, seed=0, **SMALL, policy_kwargs={"diffusion_kwargs": {"steps": 5, "latent_dim": 64}})
    model.learn(100)
    obs = _batch(env, 8, seed=5)
    single = {k: v[3].numpy() for k, v in obs.items()}
    expected, _ = model.predict(single, deterministic=True)
    expected_batch, _ = model.predict({k: v.numpy() for k, v in obs.items()}, deterministic=True)
    model.save(tmp_path / "eat.zip")
    loaded = SAC.load(tmp_path / "eat.zip", env=env)
    assert isinstance(loaded.policy, EatPolicy)
    assert loaded.actor.denoiser.steps == 5 and loaded.actor.denoiser.latent_dim == 64
    np.testing.assert_allclose(loaded.predict(single, deterministic=True)[0], expected, atol=1e-6)
    np.testing.assert_allclose(
        loaded.predict({k: v.numpy() for k, v in obs.items()}, deterministic=True)[0], expected_batch, atol=1e-6
    )
    dsac = make_dsac_sac(_env(obs_mode="flat"), seed=0, **SMALL)
    flat = _env(obs_mode="flat").observation_space.sample()
    dsac.save(tmp_path / "dsac.zip")
    np.testing.assert_allclose(
        SAC.load(tmp_path / "dsac.zip").predict(flat, deterministic=True)[0],
        dsac.predict(flat, deterministic=True)[0],
        atol=1e-6,
    )


def test_padding_mask_matters():
    env = _env()
    model = SAC(EatPolicy, env, seed=0, **SMALL)
    obs = _batch(env, 200, seed=1)
    partial = torch.nonzero((obs["tasks"][:, :, PRESENT] == 0).any(1) & (obs["tasks"][:, :, PRESENT] == 1).any(1))
    assert len(partial) > 0, "the rollout should hold a partly filled queue"
    one = {k: v[partial[0]].clone() for k, v in obs.items()}
    pad_row = int(torch.nonzero(one["tasks"][0, :, PRESENT] == 0)[0])
    live_row = int(torch.nonzero(one["tasks"][0, :, PRESENT] == 1)[0])
    actor = model.actor
    with torch.no_grad():
        base = actor(one, deterministic=True)
        padded = {k: v.clone() for k, v in one.items()}
        padded["tasks"][0, pad_row, 1:] = torch.tensor([5.0, 2.0, 1.0, 0.5, 1.0, 0.0])[: one["tasks"].shape[2] - 1]
        assert torch.allclose(actor(padded, deterministic=True), base, atol=1e-6)
        live = {k: v.clone() for k, v in one.items()}
        live["tasks"][0, live_row, 1] += 3.0  # a present task waited much longer
        assert (actor(live, deterministic=True) - base).abs().max().item() > 1e-4


def test_dict_n_step_returns():
    env = _env()
    buffer = DictNStepReplayBuffer(16, env.observation_space, env.action_space, device="cpu", n_steps=3, gamma=0.5)
    obs = {k: np.zeros((1, *s.shape), dtype=np.float32) for k, s in env.observation_space.spaces.items()}
    action = np.zeros((1, env.action_space.shape[0]), dtype=np.float32)
    # Rewards 1, 2, 4, 8 (done after the 3rd), 16 (truncated), 32, 64; transition i's next obs is i + 1.
    for i, (r, done, trunc) in enumerate(
        [(1, 0, 0), (2, 0, 0), (4, 1, 0), (8, 0, 0), (16, 1, 1), (32, 0, 0), (64, 0, 0)]
    ):
        nxt = {k: np.full_like(v, i + 1) for k, v in obs.items()}
        buffer.add(obs, nxt, action, np.array([r]), np.array([done]), [{"TimeLimit.truncated": bool(trunc)}])
    s = buffer._get_samples(np.array([0, 1, 2, 3, 5, 6]))
    np.testing.assert_allclose(s.rewards.squeeze(1).numpy(), [1 + 1 + 1, 2 + 2, 4, 8 + 8, 32 + 32, 64])
    np.testing.assert_allclose(s.discounts.squeeze(1).numpy(), [0.125, 0.25, 0.5, 0.25, 0.25, 0.5])
    np.testing.assert_allclose(s.dones.squeeze(1).numpy(), [1, 1, 1, 0, 0, 0])  # truncation bootstraps
    np.testing.assert_allclose(s.next_observations["globals"][:, 0].numpy(), [3, 3, 3, 5, 7, 7])


@pytest.mark.slow
def test_actor_loss_decreases_on_a_fixed_batch():
    """The actor learns through the denoising chain: on a fixed batch, with the critics
    frozen, 60 Adam steps (lr 1e-3) of SAC's actor loss (alpha log pi - min Q) lower it by a margin.

    Stands in for "EAT beats random after a few thousand steps": on this 2-core machine a
    2,000-step EAT run on EAT-Edge-v0 (20 tasks, batch 64, small denoiser) took ~9 minutes
    and its deterministic policy did not beat uniform random (seed 0), so no reliable
    learning run fits the test budget."""
    env = _env("EAT-Edge-v0")
    model = make_eat_sac(env, seed=0, **{**SMALL, "learning_starts": 300})
    model.learn(300)
    torch.manual_seed(0)
    obs = model.replay_buffer.sample(64).observations
    actor, critic = model.actor, model.critic
    critic.requires_grad_(False)
    for group in actor.optimizer.param_groups:
        group["lr"] = 1e-3
    losses = []
    for _ in range(60):
        actions, log_prob = actor.action_log_prob(obs)
        loss = (0.05 * log_prob - torch.min(*critic(obs, actions)).squeeze(1)).mean()
        actor.optimizer.zero_grad()
        loss.backward()
        actor.optimizer.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < first - 0.1, losses


def _evaluate(env: gym.Env, act, episodes: int = 5) -> dict[str, float]:
    """Mean return, mean denoising steps of dispatched tasks and fraction of decisions that
    dispatched, over the held-out seeds 1_000_000 + i."""
    returns, steps, dispatched, decisions = [], [], 0, 0
    for i in range(episodes):
        obs, _ = env.reset(seed=1_000_000 + i)
        ret, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            ret += float(reward)
            dispatched += info["dispatches"]
            decisions += 1
            done = terminated or truncated
        returns.append(ret)
        steps.append(info["episode_metrics"]["mean_steps"])
    return {
        "return": float(np.mean(returns)),
        "steps": float(np.mean(steps)),
        "dispatch_rate": float(dispatched / decisions),
    }


@pytest.mark.slow
def test_eat_learns_to_beat_random():
    """EAT learns on a tiny scenario: after 1,000 env steps its deterministic policy beats
    uniform random by a margin, and it does so by dispatching instead of waiting.

    Scenario: ``EAT-Edge-v0`` with 10 tasks, a 2-slot queue and the ``quality`` reward
    (normalised quality at dispatch - 0.1 x response / SLO, queueing charged as it accrues),
    episodes capped at 200 decisions. Waiting or picking an empty slot costs queueing, so a
    policy that always executes (a[0] >= 0) the present task, with enough steps, wins.
    Settings (cheap, not the paper's): batch 64, ``learning_starts=200``, ``train_freq=2``
    (400 gradient steps), lr 1e-3, 16-d tokens, 64-d context/latent, a 64-wide noise model,
    5 denoising steps (the denoiser takes any T), (64, 64) critics; seed 0, one thread.

    Measured (evaluation seeds 1_000_000 + i, 5 episodes; random agent seeded 0: return
    -8.06, 25.2 mean steps, 50 dispatches in 133 decisions): training seeds 0, 1, 2, 3 gave
    returns 5.07, 5.13, 5.12, 5.21 and mean steps 48, 43, 44, 35, every decision a dispatch.
    (1,500 steps, 1-slot queue, seeds 0-2: returns 5.07-5.09 vs random -10.27.) Training
    took 19-40 s on the shared 2-core machine (two runs at once). The random agent's return
    depends on its own seed (-8.06, -1.58, -2.45, -0.99, -5.85 for seeds 0-4), so the margin,
    5, holds against any of them (smallest gap 6.06); it is seeded 0 here."""
    env_kwargs = {"obs_mode": "dict", "num_tasks": 10, "queue_len": 2, "reward": "quality", "max_episode_steps": 200}
    env = gym.make("EAT-Edge-v0", **env_kwargs)
    model = make_eat_sac(
        env,
        seed=0,
        buffer_size=1_000,
        batch_size=64,
        learning_starts=200,
        train_freq=2,
        gradient_steps=1,
        learning_rate=1e-3,
        policy_kwargs={
            "encoder_kwargs": {"dim": 16, "context_dim": 64},
            "diffusion_kwargs": {"latent_dim": 64, "hidden": 64, "steps": 5},
            "net_arch": [64, 64],
        },
    )
    model.learn(1_000)
    eval_env = gym.make("EAT-Edge-v0", **env_kwargs)
    trained = _evaluate(eval_env, lambda obs: model.predict(obs, deterministic=True)[0])
    eval_env.action_space.seed(0)
    random = _evaluate(eval_env, lambda obs: eval_env.action_space.sample())
    assert trained["return"] >= random["return"] + 5.0, (trained, random)  # measured gap: 13.1-13.3
    # Learned behaviour, not luck: it executes instead of waiting, and runs more denoising steps.
    assert trained["dispatch_rate"] >= 0.9 > random["dispatch_rate"] + 0.3, (trained, random)
    assert trained["steps"] >= random["steps"] + 5.0, (trained, random)
