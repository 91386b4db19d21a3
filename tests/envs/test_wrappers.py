"""FlatDiscreteActions: MultiDiscrete -> Discrete by mixed radix, with product masks."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401
from eat_bench.envs.wrappers import FlatDiscreteActions, flat_index, flat_mask, unflatten_index


def test_mixed_radix_round_trip_and_order():
    nvec = (11, 3, 4)
    indices = [flat_index(a, nvec) for a in itertools.product(*(range(n) for n in nvec))]
    assert indices == list(range(11 * 3 * 4))  # lexicographic order, first component most significant
    assert flat_index([1, 0, 2], nvec) == 14 and flat_index([10, 2, 3], nvec) == 131
    for i in (0, 14, 77, 131):
        assert flat_index(unflatten_index(i, nvec), nvec) == i
    assert unflatten_index(14, nvec).tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="outside 0..131"):
        unflatten_index(132, nvec)
    with pytest.raises(ValueError, match="outside 0..2"):
        flat_index([0, 3, 0], nvec)


def test_flat_mask_is_the_product_of_the_component_masks():
    nvec = (3, 2, 2)
    mask = np.array([1, 0, 1, 1, 1, 0, 1], dtype=bool)  # slots {0, 2}, degrees {0, 1}, levels {1}
    flat = flat_mask(mask, nvec)
    assert flat.shape == (12,)
    valid = [unflatten_index(i, nvec).tolist() for i in np.flatnonzero(flat)]
    assert valid == [[0, 0, 1], [0, 1, 1], [2, 0, 1], [2, 1, 1]]
    with pytest.raises(ValueError, match="expected \\(7,\\)"):
        flat_mask(mask[:-1], nvec)


def test_wrapper_acts_like_the_multidiscrete_env():
    base = gym.make("EAT-Edge-v0", action_mode="discrete", num_tasks=20)
    flat = FlatDiscreteActions(gym.make("EAT-Edge-v0", action_mode="discrete", num_tasks=20))
    assert flat.action_space == gym.spaces.Discrete(132) and flat.nvec.tolist() == [11, 3, 4]
    obs_a, _ = base.reset(seed=3)
    obs_b, _ = flat.reset(seed=3)
    rng = np.random.default_rng(0)
    steps = 0
    done = False
    while not done:
        np.testing.assert_array_equal(obs_a, obs_b)
        masks = base.unwrapped.action_masks()
        np.testing.assert_array_equal(flat.action_masks(), flat_mask(masks, flat.nvec))
        valid = np.flatnonzero(flat.action_masks())
        index = int(rng.choice(valid))
        action = unflatten_index(index, flat.nvec)
        assert flat.reverse_action(action) == index
        obs_a, r_a, term_a, trunc_a, _ = base.step(action)
        obs_b, r_b, term_b, trunc_b, _ = flat.step(index)
        assert (r_a, term_a, trunc_a) == (r_b, term_b, trunc_b)
        done = term_a or trunc_a
        steps += 1
    assert steps > 20 and base.unwrapped.episode_metrics().dispatched == 20


def test_wrapper_refuses_a_continuous_env():
    with pytest.raises(ValueError, match="action_mode='discrete'"):
        FlatDiscreteActions(gym.make("EAT-Edge-v0"))
