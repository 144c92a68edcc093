"""The algorithm: A3C itself, read in this order.

- :mod:`~a3c.algorithm.config`: :class:`TrainConfig`, every setting of a run, typed and documented;
- :mod:`~a3c.algorithm.envs`: Atari ids old and new, the seed's 42x42 frames, sticky actions and no-op starts;
- :mod:`~a3c.algorithm.model`: the conv+LSTM actor-critic;
- :mod:`~a3c.algorithm.optim`: SharedAdam and SharedRMSprop, statistics in shared memory;
- :mod:`~a3c.algorithm.losses`: GAE policy loss, n-step value loss, entropy bonus;
- :mod:`~a3c.algorithm.task`: an env factory paired with its network;
- :mod:`~a3c.algorithm.seeding`: process ``rank`` seeded with ``seed + rank``;
- :mod:`~a3c.algorithm.worker`: one worker's rollout, loss and gradient hand-off;
- :mod:`~a3c.algorithm.evaluation`: greedy episodes with the stuck guard, and their protocol.

Nothing here knows about processes, files or Ray: that is :mod:`a3c.runtime` and :mod:`a3c.backends`.
"""
