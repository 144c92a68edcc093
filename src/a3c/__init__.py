"""a3c: Asynchronous Advantage Actor-Critic (Mnih et al. 2016) for Atari, on the CPU.

Four layers, a folder each, read in this order; each imports only the ones before it:

- :mod:`a3c.algorithm`: the config, envs, model, optimisers, loss, worker and greedy evaluation;
- :mod:`a3c.runtime`: shared state, checkpoints, the run dir, messages and logs, signals, progress;
- :mod:`a3c.backends`: the run itself, and the local (Hogwild! processes) and Ray backends;
- :mod:`a3c.cli`: the ``a3c`` command, a module per subcommand.
"""

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.envs.atari import make_atari_env
from a3c.algorithm.model import ActorCritic, MLPActorCritic
from a3c.algorithm.optim import SharedAdam, SharedRMSprop

__version__ = "0.1.0"

__all__ = ["ActorCritic", "MLPActorCritic", "SharedAdam", "SharedRMSprop", "TrainConfig", "make_atari_env", "__version__"]
