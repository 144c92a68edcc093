"""Training configuration: one typed dataclass, each field documented.

The algorithm defaults are the seed's (the course notebook and ``spec.md``). Only
``num_processes`` and ``max_steps`` differ, so that a plain ``a3c train`` is a useful
Pong run on the machine it runs on rather than a 20,000-step smoke test.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from a3c.errors import UserError

#: Optimisers that ``--optimizer`` accepts.
OPTIMIZERS = ("adam", "rmsprop")

#: Frame pipelines that ``--frames`` accepts: the seed's from the RGB screen, or from the ALE's grey one.
FRAMES = ("seed", "grey")

#: Learning-rate schedules that ``--lr-schedule`` accepts.
LR_SCHEDULES = ("constant", "linear")

#: Rules by which ``--stuck-guard`` ends a greedy episode that no longer goes anywhere: ``screen``,
#: the screen has not changed for 100 agent steps; ``actions``, the seed's, 100 identical actions.
STUCK_GUARDS = ("screen", "actions")


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset/cgroup affinity where the OS exposes it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_num_processes() -> int:
    # One worker per core; the evaluator shares the cores. The seed used 4 (16 for its
    # pretrained model), which oversubscribes a 2-core machine and slows every process.
    return available_cpus()


@dataclass
class TrainConfig:
    """Everything that defines a training run. Saved as ``config.yaml`` in the run directory."""

    env_name: str = "PongDeterministic-v4"
    """Gymnasium/ALE id of the Atari game. Legacy ids such as PongDeterministic-v4 are accepted."""

    sticky: float | None = None
    """Sticky actions: the ALE's repeat-action probability, in [0, 1], for training and the
    evaluator. None: the id's own (0 for PongDeterministic-v4, 0.25 for ALE/Pong-v5, the field's
    evaluation standard since Machado et al. 2018)."""

    noop_max: int = 0
    """Random no-op starts: 0 to this many NOOP actions after each reset (0: none; 30 is the
    protocol of Mnih et al. 2015)."""

    frames: str = "seed"
    """How a screen becomes the 42x42 observation. ``seed``: the seed's pipeline (the RGB screen,
    cropped, resized to 80x80 then 42x42, the colour channels averaged). ``grey``: the ALE's own
    grey screen (its luminance), cropped and resized the same way: no RGB screen is rendered and a
    third of the resizing remains. The agent is evaluated with the frames it was trained on."""

    lr: float = 0.0001
    """Learning rate of the shared optimiser."""

    lr_schedule: str = "constant"
    """``constant`` (the seed's) or ``linear``: the rate falls from ``lr`` at global step 0 to 0 at
    ``max_steps``, as in the A3C paper (Mnih et al. 2016, which anneals it to 0 over training)."""

    gamma: float = 0.99
    """Discount factor, in (0, 1]."""

    gae_lambda: float = 1.00
    """GAE lambda, in [0, 1]; 1.0 gives plain n-step advantages."""

    entropy_coef: float = 0.01
    """Weight of the entropy bonus in the policy loss."""

    normalize_advantages: bool = False
    """Scale each rollout's advantages to mean 0 and standard deviation 1 over its samples before
    they weight the policy gradient (the seed: off)."""

    value_loss_coef: float = 0.5
    """Weight of the value loss in the total loss."""

    max_grad_norm: float = 50.0
    """Global gradient-norm clip applied to each rollout's gradient."""

    seed: int = 1
    """Base seed; process ``rank`` uses ``seed + rank`` (the evaluator has rank ``num_processes``)."""

    num_processes: int = field(default_factory=default_num_processes)
    """Training worker processes. Default: one per available CPU (the seed used 4)."""

    num_steps: int = 20
    """Forward steps per rollout (the n of n-step returns)."""

    max_episode_length: int = 1_000_000
    """Agent steps after which an episode is cut short."""

    max_steps: int = 2_000_000
    """Global env steps (all workers together) after which training stops. The seed's quick
    default was 20,000; its pretrained model used 2,000,000."""

    no_shared: bool = False
    """Give each worker its own optimiser statistics instead of shared ones."""

    envs_per_worker: int = 1
    """Envs each worker steps together, with batched forward and backward passes. 1 is the
    seed's algorithm exactly; K > 1 runs K envs for ``num_steps`` steps each per update (episodes
    may end and restart inside a rollout) and averages the loss over the K envs."""

    terminal_on_life_loss: bool = False
    """Training only: in games with lives, a lost life ends the episode for the learner (value 0,
    a fresh LSTM state) while the game plays on; the evaluator still plays whole games, and the
    training scores are still whole games'. The "episodic life" of DQN (Mnih et al. 2015), which
    Stable-Baselines3 and CleanRL use on Atari; off in the seed."""

    init_from: str | None = None
    """A checkpoint (file or run dir) whose weights, and optimiser statistics where the optimiser
    matches, start this run instead of random weights: to fine-tune an agent, say with a lower
    ``--lr`` or under another protocol. The run's own global step still starts at 0."""

    update_groups: int = 1
    """Updates per batched rollout: the K envs are split into this many groups (K must divide by
    it), each with an update of its own. The K envs still act with one batched forward pass per
    step; each group's loss is then recomputed with the shared weights of that moment. 1 is one
    update per K x T samples, as the batched worker makes."""

    optimizer: str = "adam"
    """``adam`` (SharedAdam, the seed's) or ``rmsprop`` (the A3C paper's shared RMSProp)."""

    checkpoint_interval_s: float = 60.0
    """Seconds between periodic ``latest`` checkpoints written by the trainer."""

    checkpoint_interval_steps: int | None = None
    """Also write ``latest`` every this many global steps (None: by time only). A killed run
    loses at most one interval."""

    max_restarts: int = 3
    """Times each worker (and the evaluator) is restarted after it dies before the run stops."""

    max_nonfinite_updates: int = 20
    """Consecutive updates with a non-finite loss or gradient (each skipped, never applied) after
    which a worker gives up and the run stops with the last good weights saved."""

    max_seconds: float | None = None
    """Also stop after this much wall time (None: no limit). Handy for time-boxed runs."""

    eval_interval_s: float = 0.0
    """Seconds the evaluator pauses between evaluation rounds. 0 is the seed's evaluator, which
    plays without pause and takes about a third of a 2-core machine from the workers."""

    eval_interval_steps: int | None = None
    """Instead of a pause in seconds (``eval_interval_s`` is then ignored): start the next round
    once the run has trained this many global steps past the weights the last round played (at
    once if it already has). The same spacing on every machine. On Pong, looking every 10,000
    steps found a run's first win sooner on saved weights, at about 20% fewer training steps/s;
    its direct time-to-solve test met the evaluator fault of before commit cb6c2c4 and decided
    nothing, so ``fast`` keeps its 20 s pause (docs/results.md, "How often the evaluator looks")."""

    eval_episodes: int = 5
    """Greedy episodes per evaluation round, played side by side (one env each, one batched
    forward pass a step), all with one copy of the weights. ``best.pt``
    holds the round with the highest mean, and the progress line and "solved" (a round mean >= 18
    on Pong) go by it, so that one lucky episode under sticky actions wins nothing. 1 gives the
    seed's evaluator, which copied the weights before every episode."""

    stuck_guard: str = "actions"
    """When the evaluator ends a greedy episode early as stuck. ``actions`` (the seed's): the last
    100 actions were all the same, which cuts short games where holding one action is good play
    (firing in SpaceInvaders or BeamRider). ``screen``: the screen has not changed for 100 agent
    steps (400 frames at frameskip 4), a game waiting for an input (FIRE) that the agent never
    gives; any other episode plays to its end or to the ALE's 108,000-frame cap."""

    heartbeat_timeout_s: float = 60.0
    """Seconds a worker may go without a heartbeat before the trainer kills it as hung and restarts
    it (within ``max_restarts``); the evaluator gets twice as long. Workers beat at every update and
    the evaluator at every step, so 60 s is 30 report intervals of silence: a deadlock, a stuck env,
    a stopped process."""

    log_interval_s: float = 10.0
    """Seconds between rows of ``train_metrics.csv`` (and the TensorBoard training scalars).
    Local workers report to the trainer at least twice per interval (every 2 s at most); Ray
    workers report once per 2 s slice of work, so with a shorter interval some rows hold none."""

    def validate(self) -> TrainConfig:
        """Raise :class:`UserError` with one clear line for the first invalid value."""

        def finite(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"{flag_name(name)} must be a finite number, got {value!r}")
            return float(value)

        def integer(name: str, minimum: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise UserError(f"{flag_name(name)} must be an integer >= {minimum}, got {value!r}")

        if finite("lr") <= 0:
            raise UserError(f"--lr must be > 0, got {self.lr}")
        if not 0 < finite("gamma") <= 1:
            raise UserError(f"--gamma must be in (0, 1], got {self.gamma}")
        if not 0 <= finite("gae_lambda") <= 1:
            raise UserError(f"--gae-lambda must be in [0, 1], got {self.gae_lambda}")
        if finite("entropy_coef") < 0:
            raise UserError(f"--entropy-coef must be >= 0, got {self.entropy_coef}")
        if finite("value_loss_coef") < 0:
            raise UserError(f"--value-loss-coef must be >= 0, got {self.value_loss_coef}")
        if finite("max_grad_norm") <= 0:
            raise UserError(f"--max-grad-norm must be > 0, got {self.max_grad_norm}")
        if finite("checkpoint_interval_s") <= 0:
            raise UserError(f"--checkpoint-interval must be > 0 seconds, got {self.checkpoint_interval_s}")
        if self.max_seconds is not None and finite("max_seconds") <= 0:
            raise UserError(f"--max-seconds must be > 0, got {self.max_seconds}")
        if finite("eval_interval_s") < 0:
            raise UserError(f"--eval-interval must be >= 0 seconds, got {self.eval_interval_s}")
        if finite("heartbeat_timeout_s") <= 0:
            raise UserError(f"--heartbeat-timeout must be > 0 seconds, got {self.heartbeat_timeout_s}")
        if finite("log_interval_s") <= 0:
            raise UserError(f"--log-interval must be > 0 seconds, got {self.log_interval_s}")
        integer("seed", 0)
        integer("num_processes", 1)
        integer("num_steps", 1)
        integer("max_episode_length", 1)
        integer("max_steps", 1)
        integer("envs_per_worker", 1)
        integer("update_groups", 1)
        if self.envs_per_worker % self.update_groups:
            raise UserError(f"--update-groups {self.update_groups} must divide --envs-per-worker {self.envs_per_worker}")
        integer("max_restarts", 0)
        integer("max_nonfinite_updates", 1)
        integer("noop_max", 0)
        integer("eval_episodes", 1)
        if self.sticky is not None and not 0 <= finite("sticky") <= 1:
            raise UserError(f"--sticky must be a probability in [0, 1], got {self.sticky}")
        if self.checkpoint_interval_steps is not None:
            integer("checkpoint_interval_steps", 1)
        if self.eval_interval_steps is not None:
            integer("eval_interval_steps", 1)
        if self.frames not in FRAMES:
            raise UserError(f"--frames must be one of {', '.join(FRAMES)}, got {self.frames!r}")
        if self.stuck_guard not in STUCK_GUARDS:
            raise UserError(f"--stuck-guard must be one of {', '.join(STUCK_GUARDS)}, got {self.stuck_guard!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not isinstance(self.env_name, str) or not self.env_name:
            raise UserError("--env-name must be a non-empty game id")
        return self

    def lr_at(self, global_step: int) -> float:
        """The learning rate for an update made at ``global_step``."""
        if self.lr_schedule == "linear":
            return self.lr * max(0.0, 1.0 - global_step / self.max_steps)
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from a mapping, rejecting unknown keys and wrong types with a clear message."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            _check_type(key, value, hints[key])
        return cls(**data)


def _check_type(key: str, value: Any, hint: Any) -> None:
    allowed = typing.get_args(hint) or (hint,)
    if value is None and type(None) in allowed:
        return
    if bool in allowed:
        ok = isinstance(value, bool)
    elif int in allowed:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif float in allowed:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        names = " or ".join("null" if t is type(None) else {"float": "number"}.get(t.__name__, t.__name__) for t in allowed)
        raise UserError(f"config key {key!r} must be {names}, got {value!r}")


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config (a file, or a run dir holding ``config.yaml``); one clear error line if bad."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"config file {str(path)!r} does not exist") from None
    except OSError as error:
        raise UserError(f"cannot read config file {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UserError(f"config file {str(path)!r} is not a text file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise UserError(f"config file {str(path)!r} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def field_docs(cls: type = TrainConfig) -> dict[str, str]:
    """Each field's docstring (the string under it in the class body), white space folded: the one
    source of ``a3c train``'s help text."""
    import ast
    import inspect
    import textwrap

    node = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(node, ast.ClassDef)
    body = node.body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def flag_name(field: str) -> str:
    """The ``a3c train`` flag of a config field, its unit dropped: ``eval_interval_s`` is
    ``--eval-interval``, and ``checkpoint_interval_steps`` is ``--checkpoint-interval`` (``Nsteps``)."""
    name = field.removesuffix("_s")
    if name.endswith("_interval_steps"):
        name = name.removesuffix("_steps")
    return "--" + name.replace("_", "-")


#: What a resumed run may change: how long it goes on and how it is watched, never the algorithm.
RESUMABLE = (
    "max_steps",
    "max_seconds",
    "checkpoint_interval_s",
    "checkpoint_interval_steps",
    "eval_interval_s",
    "eval_interval_steps",
    "eval_episodes",
    "stuck_guard",
    "log_interval_s",
    "max_restarts",
    "max_nonfinite_updates",
    "heartbeat_timeout_s",
)


def resume_config(run_dir: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
    """The config of a run being resumed: its own ``config.yaml``, with ``overrides`` (flags) allowed
    only for :data:`RESUMABLE` keys or where they repeat the run's value."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"cannot resume {str(path)!r}: no such run dir")
    if not (path / "config.yaml").is_file():
        raise UserError(f"cannot resume {str(path)!r}: it holds no config.yaml (is it a run dir?)")
    try:
        saved = TrainConfig.from_dict(load_config_file(path))
    except UserError as error:
        raise UserError(f"cannot resume {str(path)!r}: {error}") from None
    for key, value in overrides.items():
        if key not in RESUMABLE and value != getattr(saved, key):
            flag = flag_name(key)
            raise UserError(
                f"{flag} {value} conflicts with the run's {key} {getattr(saved, key)!r}: a resumed run keeps its config "
                f"(it may change {', '.join(dict.fromkeys(flag_name(k) for k in RESUMABLE))})"
            )
    return dataclasses.replace(saved, **overrides).validate()


def resolve_config(preset: str | None = None, config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> TrainConfig:
    """The config of a run, in layers: TrainConfig's defaults (the seed's algorithm), then the
    preset (``fast`` unless named), then the config file, then ``overrides`` (command-line flags)."""
    from a3c.presets import DEFAULT_PRESET, preset_path

    data = load_config_file(preset_path(preset or DEFAULT_PRESET))
    if config_file is not None:
        from_file = load_config_file(config_file)
        try:
            TrainConfig.from_dict(from_file)
        except UserError as error:
            raise UserError(f"config file {str(config_file)!r}: {error}") from None
        data.update(from_file)
    data.update(overrides)
    return TrainConfig.from_dict(data).validate()
