"""Greedy evaluation: argmax episodes with the seed's stuck guard, and the protocol they play.

The same episode loop serves the evaluation process that runs beside training, ``a3c evaluate``
and ``a3c record``. A :class:`Protocol` names how episodes are played (game, sticky actions,
no-op starts, cap): on a deterministic game every greedy episode of one agent is the same game,
so the field scores agents under sticky actions or random no-op starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from a3c.algorithm.config import STUCK_GUARDS, TrainConfig
from a3c.algorithm.envs.atari import check_env_settings, resolve_env_id
from a3c.algorithm.model import RecurrentActorCritic
from a3c.algorithm.seeding import env_seed, seed_process
from a3c.algorithm.task import Task

#: Agent steps after which the stuck guard ends an episode: of an unchanged screen (``screen``),
#: or of one action repeated (``actions``, the seed's). A greedy policy that never presses FIRE
#: when a game waits for it would otherwise play until the ALE's 108,000-frame cap.
STUCK_REPEATS = 100


class StuckGuard:
    """Counts, per episode, the agent steps that went nowhere under ``rule`` (one of
    :data:`a3c.algorithm.config.STUCK_GUARDS`); :meth:`step` says when there were ``repeats``."""

    def __init__(self, rule: str, envs: Sequence[gym.Env], obs: Sequence[Any], repeats: int = STUCK_REPEATS) -> None:
        if rule not in STUCK_GUARDS:
            raise ValueError(f"unknown stuck guard {rule!r}")
        self.rule, self.repeats = rule, repeats
        # What the player sees: the ALE's own screen, before preprocessing and the running
        # normalisation (which keeps changing the observation of a still screen); for other envs
        # the observation itself. Found once per env, not at every step.
        self.ales = [getattr(env.unwrapped, "ale", None) for env in envs]
        self.last: list[Any] = [self._screen(i, o) for i, o in enumerate(obs)] if rule == "screen" else [None] * len(envs)
        self.count = [0] * len(envs)

    def _screen(self, i: int, obs: Any) -> np.ndarray:
        ale = self.ales[i]
        return ale.getScreen() if ale is not None else np.array(obs, copy=True)

    def step(self, i: int, action: int, obs: Any) -> bool:
        """Record env i's step (the action taken, the observation it gave); True once it is stuck."""
        if self.rule == "screen":
            now = self._screen(i, obs)
            still = np.array_equal(now, self.last[i])
            self.last[i] = now
        else:
            still = action == self.last[i]
            self.last[i] = action
        # A first action counts as the first of a run of repeats; a first still screen needs a screen before it.
        self.count[i] = self.count[i] + 1 if still else int(self.rule == "actions")
        return self.count[i] >= self.repeats


@dataclass
class EpisodeResult:
    reward: float
    """Sum of the unclipped env rewards."""
    length: int
    ended_by: str
    """``terminated``, ``truncated`` (by the env's own time limit), ``max_length`` or ``stuck``."""
    cpu_s: float = field(default=0.0, compare=False)
    """CPU seconds the episode took in its process: what evaluation costs the cores."""


def play_greedy_round(
    model: RecurrentActorCritic,
    envs: Sequence[gym.Env],
    max_episode_length: int,
    stuck_guard: str = "actions",
    should_stop: Callable[[], bool] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    seeds: Sequence[int | None] | None = None,
) -> list[EpisodeResult] | None:
    """Play one greedy episode in each of ``envs`` at once, all with ``model``'s weights: one
    batched forward pass a step over the episodes still in play, so that a round of N episodes
    costs far less than N episodes played one after another, and ends with its longest episode.
    Returns the results in the order of ``envs``, or None if ``should_stop`` fired first.

    ``seeds[i]`` seeds env i's reset (sticky actions, no-op starts, the normaliser start afresh),
    so that the episode does not depend on the episodes played before it. ``on_step(i, length,
    total_reward)`` is called after every step of env i (``a3c record`` grabs a frame there).
    ``stuck_guard`` names the :class:`StuckGuard` rule. Each result's ``cpu_s`` is an equal share
    of the round's CPU time."""
    started = time.process_time()
    n = len(envs)
    obs = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds or [None] * n, strict=True)]
    hx, cx = model.initial_state(n)
    guard = StuckGuard(stuck_guard, envs, obs)
    totals, lengths = [0.0] * n, [0] * n
    ended: list[str] = [""] * n
    playing = list(range(n))
    while playing:
        if should_stop is not None and should_stop():
            return None
        batch = torch.from_numpy(np.stack([np.asarray(obs[i], dtype=np.float32) for i in playing]))
        everyone = len(playing) == n
        with torch.no_grad():
            _, logits, (h, c) = model(batch, (hx, cx) if everyone else (hx[playing], cx[playing]))
        if everyone:
            hx, cx = h, c
        else:
            hx[playing], cx[playing] = h, c
        for i, action in zip(playing, logits.argmax(dim=1).tolist(), strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(action)
            totals[i] += float(reward)
            lengths[i] += 1
            stuck = guard.step(i, action, obs[i])
            if on_step is not None:
                on_step(i, lengths[i], totals[i])
            if terminated:
                ended[i] = "terminated"
            elif truncated:
                ended[i] = "truncated"
            elif lengths[i] >= max_episode_length:
                ended[i] = "max_length"
            elif stuck:
                ended[i] = "stuck"
        playing = [i for i in playing if not ended[i]]
    share = (time.process_time() - started) / n
    return [EpisodeResult(totals[i], lengths[i], ended[i], share) for i in range(n)]


def play_greedy_episode(
    model: RecurrentActorCritic,
    env: gym.Env,
    max_episode_length: int,
    stuck_guard: str = "actions",
    should_stop: Callable[[], bool] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    seed: int | None = None,
) -> EpisodeResult | None:
    """Play one episode with argmax actions (a round of one: :func:`play_greedy_round`). Returns
    None if ``should_stop`` fired first. ``on_step(length, total_reward)`` follows every step."""
    each_step = None if on_step is None else (lambda _i, length, total: on_step(length, total))
    results = play_greedy_round(model, [env], max_episode_length, stuck_guard, should_stop, each_step, [seed])
    return None if results is None else results[0]


def evaluator_seeds(rank: int, config: TrainConfig) -> list[int]:
    """The seed of each env of the evaluator's rounds: ``seed + rank`` for a round of one, as the
    seed's evaluator used, else :func:`a3c.algorithm.seeding.env_seed` of it for env i.

    Every round resets its envs with these seeds, so that a round's episodes depend on its weights
    alone: the running normaliser starts afresh (and, under sticky actions, every round draws the
    same random stream). Carried over, the normaliser's statistics drifted with the episodes
    before: after one 27,000-step episode, most later greedy Pong episodes of six runs were 21-0
    losses (in four of them every one), while the last weights of one, in a fresh env, scored -3;
    a 10% shift of the normaliser's mean alone turns that agent's game into 21-0 losses
    (docs/results.md, "The evaluator's normaliser")."""
    n = config.eval_episodes
    return [config.seed + rank] if n == 1 else [env_seed(config.seed + rank, i) for i in range(n)]


def build_evaluator(rank: int, config: TrainConfig, task: Task) -> tuple[list[gym.Env], RecurrentActorCritic, list[int]]:
    """The evaluator's envs, one per episode of a round (``eval_episodes``), each built with its
    seed of :func:`evaluator_seeds`; its network (in eval mode), with the process seeded with
    ``seed + rank``; and those seeds, with which every round resets the envs."""
    seed_process(config.seed + rank)
    seeds = evaluator_seeds(rank, config)
    envs = [task.make_env(seed) for seed in seeds]
    model = task.make_model(envs[0])
    model.eval()
    return envs, model, seeds


@dataclass(frozen=True)
class Protocol:
    """How greedy episodes are played: the game, its sticky actions and no-op starts, the cap and
    the stuck guard."""

    env_id: str
    sticky: float | None = None
    """The ALE's repeat-action probability; None: the id's own."""
    noop_max: int = 0
    max_episode_length: int = 1_000_000
    stuck_guard: str = "screen"
    """The :class:`StuckGuard` rule; ``screen`` ends only episodes of a game that waits for ever."""

    @property
    def is_atari(self) -> bool:
        return self.env_id != "Corridor"

    def to_dict(self) -> dict[str, Any]:
        """The settings actually played, with the id's own defaults resolved."""
        data: dict[str, Any] = {"env_id": self.env_id}
        if self.is_atari:
            spec = resolve_env_id(self.env_id)
            frameskip = spec.frameskip
            data["frameskip"] = list(frameskip) if isinstance(frameskip, tuple) else frameskip
            data["sticky"] = spec.repeat_action_probability if self.sticky is None else float(self.sticky)
            data["noop_max"] = self.noop_max
        data["max_episode_length"] = self.max_episode_length
        data["policy"] = "greedy (argmax)"
        data["stuck_guard"] = self.stuck_guard
        data["stuck_steps"] = STUCK_REPEATS
        return data

    def describe_guard(self) -> str:
        if self.stuck_guard == "screen":
            return f"stuck guard: {STUCK_REPEATS} steps of a still screen"
        return f"stuck guard: {STUCK_REPEATS} identical actions (the seed's)"

    def describe(self) -> str:
        """One line: ``ALE/Pong-v5: frameskip 4, sticky actions 0.25, no no-op starts, greedy ...``."""
        d = self.to_dict()
        if not self.is_atari:
            return f"{self.env_id}: greedy, {self.describe_guard()}"
        frameskip = d["frameskip"]
        skip = f"random {frameskip[0]}-{frameskip[1] - 1}" if isinstance(frameskip, list) else str(frameskip)
        noops = f"0-{self.noop_max} random no-op starts" if self.noop_max else "no no-op starts"
        return (
            f"{self.env_id}: frameskip {skip}, sticky actions {d['sticky']:g}, {noops}, greedy ({self.describe_guard()}), "
            f"episodes cut at {self.max_episode_length:,} steps"
        )


def trained_protocol(checkpoint: dict[str, Any], max_episode_length: int = 1_000_000) -> Protocol:
    """The env settings a checkpoint was trained with (older checkpoints: the id's own)."""
    config = checkpoint.get("config") or {}
    return Protocol(str(checkpoint["env_id"]), config.get("sticky"), int(config.get("noop_max") or 0), max_episode_length)


def evaluation_protocol(
    checkpoint: dict[str, Any],
    env_id: str | None = None,
    sticky: float | None = None,
    noop_max: int | None = None,
    max_episode_length: int = 1_000_000,
    stuck_guard: str = "screen",
) -> Protocol:
    """The protocol that ``a3c evaluate`` plays: the checkpoint's training settings by default; another
    ``env_id`` brings that id's own settings; ``sticky`` and ``noop_max`` override either. The stuck
    guard is ``screen`` unless told, whatever the evaluator that trained the agent used: a score
    should not depend on how long the agent holds one action."""
    trained = trained_protocol(checkpoint, max_episode_length)
    base = trained if env_id is None or env_id == trained.env_id else Protocol(env_id, None, 0, max_episode_length)
    protocol = Protocol(
        base.env_id,
        base.sticky if sticky is None else sticky,
        base.noop_max if noop_max is None else noop_max,
        max_episode_length,
        stuck_guard,
    )
    if protocol.is_atari:
        check_env_settings(protocol.sticky, protocol.noop_max)
        resolve_env_id(protocol.env_id)
    return protocol
