"""One Hogwild! training worker: roll out, compute the A3C loss, update the shared model.

Each update, in the seed's order:
1. copy the shared weights into the local model;
2. run up to ``num_steps`` env steps (stopping early at an episode's end), carrying the LSTM
   state across rollouts within an episode, detached from the previous rollout's graph;
3. compute the loss (:mod:`a3c.algorithm.losses`), back-propagate, clip the gradient norm;
4. hand the local gradients to the shared parameters and step the shared optimiser, no lock.

:meth:`Worker.compute_gradients` is steps 1-3 and :meth:`Worker.apply_gradients` step 4; the Ray
backend (:mod:`a3c.backends.ray`) runs the first in its actors and sends the gradient to a
parameter server in place of the second. A worker reaches the rest of the run only through a
:class:`WorkerLink`: the current weights, a step counter, and whether to stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.losses import RolloutLoss, a3c_loss
from a3c.algorithm.model import Hidden, RecurrentActorCritic
from a3c.algorithm.optim import step_and_release
from a3c.algorithm.seeding import env_seed, seed_process
from a3c.algorithm.task import HasSpaces, Task, make_vector_env, training_env


class WorkerLink(Protocol):
    """What a worker needs from the run around it, and nothing more. The local backend links it to
    shared memory (:class:`a3c.runtime.shared.SharedLink`), the Ray backend to the parameter
    server's last reply."""

    def sync(self, model: nn.Module) -> None:
        """Copy the run's current weights into ``model``."""

    def count_steps(self, n: int) -> None:
        """Count ``n`` env steps towards the run's global step."""

    def should_stop(self) -> bool:
        """True once this worker should stop: ``max_steps`` reached, or the run stopping."""

    @property
    def global_step(self) -> int:
        """The run's global step as this worker last saw it (for the learning-rate schedule)."""


@dataclass
class Rollout:
    log_probs: torch.Tensor
    """(T, 1), with grad."""
    entropies: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    """Clipped to [-1, 1], (T, 1)."""
    bootstrap_value: torch.Tensor
    """V(s_T), or 0 if the episode ended, (1,)."""
    done: bool
    episode_returns: list[float] = field(default_factory=list)
    """Unclipped returns of the episodes that ended in this rollout."""
    dones: torch.Tensor | None = None
    """(T, K) episode-end flags of a batched rollout; None for the classic one, which stops at
    an episode's end instead."""


@dataclass
class UpdateStats:
    steps: int
    policy_loss: float
    value_loss: float
    entropy: float
    grad_norm: float
    applied: bool
    """False when the loss or gradient was not finite and the update was skipped."""
    episode_returns: list[float] = field(default_factory=list)
    """Unclipped returns of the episodes that ended in this update's rollout."""


def hand_off_gradients(local_model: nn.Module, shared_params: list[torch.Tensor]) -> None:
    """Point each shared parameter's ``.grad`` at this rollout's local gradient.

    The assignment is redone on every update. The old ``ensure_shared_grads`` assigned only
    once and relied on ``zero_grad()`` zeroing grads in place; since PyTorch 2 it sets them to
    None instead, so the shared grads went stale after the first update.
    """
    for local, shared in zip(local_model.parameters(), shared_params, strict=True):
        shared.grad = local.grad


def optimizer_params(optimizer: Optimizer) -> list[torch.Tensor]:
    """The parameters an optimiser steps, in order: for a worker's, the shared model's."""
    return [p for group in optimizer.param_groups for p in group["params"]]


def sample_action(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample from the softmax policy: (actions (N, 1), their log-probs (N,), entropies (N,))."""
    prob = F.softmax(logits, dim=-1)
    log_prob = F.log_softmax(logits, dim=-1)
    action = prob.multinomial(num_samples=1).detach()
    entropy = -(log_prob * prob).sum(1)
    return action, log_prob.gather(1, action).squeeze(1), entropy


class Worker:
    """The state of one worker: its env, local model, LSTM state and episode bookkeeping."""

    def __init__(
        self,
        config: TrainConfig,
        env: gym.Env | gym.vector.VectorEnv,
        local_model: RecurrentActorCritic,
        link: WorkerLink,
        optimizer: Optimizer | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.model = local_model
        self.link = link
        self.optimizer = optimizer
        """Steps the shared parameters (it was built over them); None for a worker whose gradients a
        parameter server applies."""
        self.obs, _ = env.reset()
        self.hidden: Hidden = local_model.initial_state()
        self.done = True
        self.episode_length = 0
        self.episode_return = 0.0
        self.skipped_updates = 0
        self.skipped_in_a_row = 0
        """Non-finite updates since the last applied one; see :attr:`nonfinite_limit_reached`."""

    def _obs_tensor(self) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.obs, dtype=np.float32)).unsqueeze(0)

    def rollout(self) -> Rollout:
        """Run up to ``num_steps`` steps with the local model, building the graph for backward."""
        cfg = self.config
        if self.done:
            self.hidden = self.model.initial_state()
        else:
            self.hidden = (self.hidden[0].detach(), self.hidden[1].detach())
        log_probs, entropies, values, rewards = [], [], [], []
        finished: list[float] = []
        self.done = False
        for _ in range(cfg.num_steps):
            self.episode_length += 1
            value, logits, self.hidden = self.model(self._obs_tensor(), self.hidden)
            action, log_prob, entropy = sample_action(logits)
            log_probs.append(log_prob)
            entropies.append(entropy)
            values.append(value.squeeze(1))

            self.obs, reward, terminated, truncated, _ = self.env.step(int(action.item()))
            self.episode_return += float(reward)
            self.done = bool(terminated or truncated) or self.episode_length >= cfg.max_episode_length
            rewards.append(max(min(float(reward), 1.0), -1.0))
            self.link.count_steps(1)

            if self.done:
                self.episode_length = 0
                self.obs, info = self.env.reset()
                if info.get("new_game", True):  # not a life lost in a game that plays on
                    finished.append(self.episode_return)
                    self.episode_return = 0.0
                break

        if self.done:
            bootstrap = torch.zeros(1)
        else:
            with torch.no_grad():
                bootstrap = self.model(self._obs_tensor(), self.hidden)[0].squeeze(1)
        return Rollout(
            log_probs=torch.stack(log_probs),
            entropies=torch.stack(entropies),
            values=torch.stack(values),
            rewards=torch.tensor(rewards, dtype=torch.float32).unsqueeze(1),
            bootstrap_value=bootstrap,
            done=self.done,
            episode_returns=finished,
        )

    def loss(self, rollout: Rollout) -> RolloutLoss:
        """The seed's loss, summed over steps and averaged over envs (one env: exactly the seed's)."""
        cfg = self.config
        losses = a3c_loss(
            rollout.log_probs,
            rollout.entropies,
            rollout.values,
            rollout.rewards,
            rollout.bootstrap_value,
            dones=rollout.dones,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
            entropy_coef=cfg.entropy_coef,
            normalize_advantages=cfg.normalize_advantages,
        )
        num_envs = rollout.rewards.shape[1]
        losses.policy_loss = losses.policy_loss / num_envs
        losses.value_loss = losses.value_loss / num_envs
        losses.entropy = losses.entropy / num_envs
        return losses

    def update(self) -> UpdateStats:
        """One A3C update: sync, roll out, back-propagate, hand off, step the shared optimiser."""
        stats = self.compute_gradients()
        if stats.applied:
            self.apply_gradients()
        return stats

    def compute_gradients(self) -> UpdateStats:
        """Steps 1-3 of an update: sync with the shared weights, roll out, back-propagate, clip.

        The clipped gradient is left on the local model's parameters, for :meth:`apply_gradients`
        here or for the parameter server in the Ray backend. ``applied`` is False (and the update
        counted in ``skipped_updates``) when the loss or gradient is not finite: it must not be
        applied.
        """
        self.link.sync(self.model)
        rollout = self.rollout()
        losses = self.loss(rollout)
        total = losses.total(self.config.value_loss_coef)
        for param in self.model.parameters():  # not Module.zero_grad: about 3 ms a call, profiled on a busy EPYC
            param.grad = None
        total.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm))
        applied = math.isfinite(float(total.detach())) and math.isfinite(grad_norm)
        if not applied:
            self.skipped_updates += 1
        self.skipped_in_a_row = 0 if applied else self.skipped_in_a_row + 1
        return UpdateStats(
            steps=rollout.rewards.numel(),
            policy_loss=float(losses.policy_loss.detach()),
            value_loss=float(losses.value_loss.detach()),
            entropy=float(losses.entropy),
            grad_norm=grad_norm,
            applied=applied,
            episode_returns=rollout.episode_returns,
        )

    @property
    def nonfinite_limit_reached(self) -> bool:
        """``max_nonfinite_updates`` non-finite updates in a row: restarting would not help, as the
        shared weights or the env produce the NaNs, so the run must stop."""
        return self.skipped_in_a_row >= self.config.max_nonfinite_updates

    def apply_gradients(self) -> None:
        """Step 4: hand the local gradient to the shared parameters and step the shared optimiser, no lock."""
        assert self.optimizer is not None, "this worker's gradients are applied elsewhere (a parameter server)"
        hand_off_gradients(self.model, optimizer_params(self.optimizer))
        step_and_release(self.optimizer, self.config.lr_at(self.link.global_step))

    def run(
        self,
        report: Callable[[UpdateStats], None],
        apply: Callable[[UpdateStats], None] | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> bool:
        """Update until the link says stop (or ``keep_going()`` says no): compute the gradient,
        ``apply`` it (by default :meth:`apply_gradients`, for updates whose gradient is finite),
        ``report`` the update. Returns False when ``max_nonfinite_updates`` non-finite updates in a
        row mean the run must stop, True otherwise."""
        while not self.link.should_stop() and (keep_going is None or keep_going()):
            stats = self.compute_gradients()
            if apply is not None:
                apply(stats)
            elif stats.applied:
                self.apply_gradients()
            report(stats)
            if self.nonfinite_limit_reached:
                return False
        return True


class BatchedWorker(Worker):
    """K envs per worker, stepped together, with one batched forward pass per step.

    Each update is still an asynchronous, lock-free Hogwild! update of the shared model; only
    the rollout grows from 1 x up-to-T steps to K x T steps. The loss is the classic one,
    averaged over the K envs, so gradient clipping means the same thing for any K.
    """

    def __init__(
        self,
        config: TrainConfig,
        envs: gym.vector.VectorEnv,
        local_model: RecurrentActorCritic,
        link: WorkerLink,
        optimizer: Optimizer | None = None,
    ) -> None:
        super().__init__(config, envs, local_model, link, optimizer)
        self.num_envs = envs.num_envs
        self.hidden = local_model.initial_state(self.num_envs)
        self.episode_returns = np.zeros(self.num_envs)

    def _step_envs(self, actions: np.ndarray, finished: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Step the K envs; add each step's raw reward to its game's score, and move the scores of
        games that ended to ``finished``. Returns the rewards and the episode ends (a lost life
        ends an episode but not the game under ``terminal_on_life_loss``)."""
        self.obs, step_rewards, terminated, truncated, infos = self.env.step(actions)
        reward = np.asarray(step_rewards, dtype=np.float64)
        done = np.logical_or(terminated, truncated)
        self.episode_returns += reward
        game_over = games_over(done, infos)
        finished.extend(float(r) for r in self.episode_returns[game_over])
        self.episode_returns[game_over] = 0.0
        return reward, done

    def _obs_tensor(self) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.obs, dtype=np.float32))

    def rollout(self) -> Rollout:
        cfg = self.config
        self.hidden = (self.hidden[0].detach(), self.hidden[1].detach())
        log_probs, entropies, values, rewards, dones = [], [], [], [], []
        finished: list[float] = []
        for _ in range(cfg.num_steps):
            value, logits, hidden = self.model(self._obs_tensor(), self.hidden)
            action, log_prob, entropy = sample_action(logits)
            log_probs.append(log_prob)
            entropies.append(entropy)
            values.append(value.squeeze(1))

            reward, done = self._step_envs(action.squeeze(1).numpy(), finished)
            rewards.append(torch.from_numpy(np.clip(reward, -1.0, 1.0).astype(np.float32)))
            dones.append(torch.from_numpy(done))
            self.link.count_steps(self.num_envs)
            # An env that was reset starts its new episode with a zero LSTM state.
            keep = torch.from_numpy(~done).float().unsqueeze(1)
            self.hidden = (hidden[0] * keep, hidden[1] * keep)

        with torch.no_grad():
            bootstrap = self.model(self._obs_tensor(), self.hidden)[0].squeeze(1)
        return Rollout(
            log_probs=torch.stack(log_probs),
            entropies=torch.stack(entropies),
            values=torch.stack(values),
            rewards=torch.stack(rewards),
            bootstrap_value=bootstrap,
            done=False,
            episode_returns=finished,
            dones=torch.stack(dones),
        )


@dataclass
class Experience:
    """What K envs did over one rollout, acted on without a graph: enough to recompute any group
    of envs' forward passes with gradients."""

    start_hidden: Hidden
    """(K, H) LSTM state at the rollout's start."""
    obs: torch.Tensor
    """(T, K, ...) observations acted on."""
    actions: torch.Tensor
    """(T, K) actions taken."""
    rewards: torch.Tensor
    """(T, K) rewards, clipped to [-1, 1]."""
    dones: torch.Tensor
    """(T, K) episode-end flags."""
    final_obs: torch.Tensor
    """(K, ...) observations after the last step, for the bootstrap values."""
    episode_returns: list[float]


class GroupedWorker(BatchedWorker):
    """K envs acting together, with ``update_groups`` updates per rollout instead of one.

    The envs act for ``num_steps`` steps with one batched forward pass per step and no graph.
    Then each group of K / G envs, in turn, syncs with the shared weights, recomputes its own
    forward passes from its recorded observations and LSTM state with gradients, and makes an
    update from its own loss alone. So a rollout of K x T samples gives G updates, each as fresh
    as the shared weights at its start, for one extra forward pass (the acting one) per sample.
    """

    def __init__(
        self,
        config: TrainConfig,
        envs: gym.vector.VectorEnv,
        local_model: RecurrentActorCritic,
        link: WorkerLink,
        optimizer: Optimizer | None = None,
    ) -> None:
        super().__init__(config, envs, local_model, link, optimizer)
        size = self.num_envs // config.update_groups
        self.groups = [slice(g * size, (g + 1) * size) for g in range(config.update_groups)]
        self.experience: Experience | None = None
        self.pending: list[slice] = []
        """Groups of the last rollout that have not made their update yet."""

    def act(self) -> Experience:
        """One rollout of all K envs with batched forward passes and no graph."""
        cfg = self.config
        start_hidden = (self.hidden[0].detach(), self.hidden[1].detach())
        obs, actions, rewards, dones = [], [], [], []
        finished: list[float] = []
        with torch.no_grad():
            for _ in range(cfg.num_steps):
                current = self._obs_tensor()
                _, logits, hidden = self.model(current, self.hidden)
                action = F.softmax(logits, dim=-1).multinomial(num_samples=1).squeeze(1)
                reward, done = self._step_envs(action.numpy(), finished)
                obs.append(current)
                actions.append(action)
                rewards.append(torch.from_numpy(np.clip(reward, -1.0, 1.0).astype(np.float32)))
                dones.append(torch.from_numpy(done))
                self.link.count_steps(self.num_envs)
                keep = torch.from_numpy(~done).float().unsqueeze(1)
                self.hidden = (hidden[0] * keep, hidden[1] * keep)
        return Experience(start_hidden, torch.stack(obs), torch.stack(actions), torch.stack(rewards), torch.stack(dones),
                          self._obs_tensor(), finished)

    def replay(self, experience: Experience, rows: slice, episode_returns: list[float]) -> Rollout:
        """The rollout of envs ``rows``, recomputed with the local model's weights and a graph."""
        hidden = (experience.start_hidden[0][rows], experience.start_hidden[1][rows])
        log_probs, entropies, values = [], [], []
        for t in range(self.config.num_steps):
            value, logits, hidden = self.model(experience.obs[t, rows], hidden)
            log_prob = F.log_softmax(logits, dim=-1)
            entropies.append(-(log_prob * F.softmax(logits, dim=-1)).sum(1))
            log_probs.append(log_prob.gather(1, experience.actions[t, rows].unsqueeze(1)).squeeze(1))
            values.append(value.squeeze(1))
            keep = (~experience.dones[t, rows]).float().unsqueeze(1)
            hidden = (hidden[0] * keep, hidden[1] * keep)
        with torch.no_grad():
            bootstrap = self.model(experience.final_obs[rows], hidden)[0].squeeze(1)
        return Rollout(
            log_probs=torch.stack(log_probs),
            entropies=torch.stack(entropies),
            values=torch.stack(values),
            rewards=experience.rewards[:, rows],
            bootstrap_value=bootstrap,
            done=False,
            episode_returns=episode_returns,
            dones=experience.dones[:, rows],
        )

    def rollout(self) -> Rollout:
        """The next group's rollout, acting first when every group of the last one has updated."""
        if not self.pending:
            self.experience = self.act()
            self.pending = list(self.groups)
            returns = self.experience.episode_returns  # reported once, with the first group
        else:
            returns = []
        assert self.experience is not None
        return self.replay(self.experience, self.pending.pop(0), returns)


def games_over(done: np.ndarray, infos: dict) -> np.ndarray:
    """Which of a vector env's envs that ended an episode this step also ended their game, so
    that their score is a whole game's: with ``terminal_on_life_loss`` a lost life ends an
    episode, and the reset that follows (whose info a same-step autoreset returns) says
    ``new_game`` False."""
    if "new_game" not in infos:
        return done
    return done & np.where(infos["_new_game"], infos["new_game"], True)


def worker_class(config: TrainConfig) -> type[Worker]:
    """The seed's worker for one env per worker, the batched one for more, the grouped one for
    more than one update per batched rollout."""
    if config.envs_per_worker == 1:
        return Worker
    return BatchedWorker if config.update_groups == 1 else GroupedWorker


def build_envs_and_model(rank: int, config: TrainConfig, task: Task) -> tuple[gym.Env | gym.vector.VectorEnv, RecurrentActorCritic]:
    """Worker ``rank``'s env (a vector of ``envs_per_worker`` envs for the batched worker) and a
    fresh local model, with the process seeded with ``seed + rank``; both backends build them so."""
    seed_process(config.seed + rank)  # before the model, whose initial weights it fixes
    if config.envs_per_worker == 1:  # the seed's algorithm, step for step
        env = training_env(task.make_env(config.seed + rank), config.terminal_on_life_loss)
        return env, task.make_model(env)
    seeds = [env_seed(config.seed + rank, i) for i in range(config.envs_per_worker)]
    envs = make_vector_env(task, seeds, config.max_episode_length, config.terminal_on_life_loss)
    return envs, task.make_model(_single_env_view(envs))


class _SpacesOf:
    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space = observation_space
        self.action_space = action_space


def _single_env_view(envs: gym.vector.VectorEnv) -> HasSpaces:
    """What ``Task.make_model`` reads from an env: the single-env spaces."""
    return _SpacesOf(envs.single_observation_space, envs.single_action_space)
