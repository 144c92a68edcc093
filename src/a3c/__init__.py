"""a3c: Asynchronous Advantage Actor-Critic (Mnih et al. 2016) for Atari, on the CPU.

Reading order: config, envs, model, optim, losses, worker, evaluator, trainer, cli.
"""

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.envs.atari import make_atari_env
from a3c.algorithm.model import ActorCritic, MLPActorCritic
from a3c.algorithm.optim import SharedAdam, SharedRMSprop

__version__ = "0.1.0"

__all__ = ["ActorCritic", "MLPActorCritic", "SharedAdam", "SharedRMSprop", "TrainConfig", "make_atari_env", "__version__"]
