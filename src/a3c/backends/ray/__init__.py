"""The Ray backend (``a3c train --backend ray``): A3C workers as Ray actors, here or on a cluster.

Ray Core's parameter-server pattern maps one-to-one onto A3C (see ``docs/ray.md``):

- :mod:`a3c.backends.ray.actors`: the rollout workers, which run the local backend's
  :meth:`a3c.algorithm.worker.Worker.compute_gradients` and send the clipped gradient to the
  parameter server in place of stepping a shared optimiser; the parameter server, which holds the
  model and the optimiser statistics and applies each gradient as it arrives; the evaluator.
- :mod:`a3c.backends.ray.driver`: :class:`RayRun`, which gives the run the local backend's run
  dir, checkpoints, metrics, TensorBoard, progress display and resume
  (:class:`a3c.backends.base.TrainingRun`). It alone writes files, so the actors may run on any node.

Importing this package needs Ray (``pip install 'a3c[ray]'``); ``import a3c`` never does.
"""

from __future__ import annotations

from a3c.errors import UserError

INSTALL_HINT = "--backend ray needs Ray, which is not installed: pip install 'a3c[ray]' (or pip install 'ray>=2.9')"

try:
    import ray  # noqa: F401
except ImportError:
    raise UserError(INSTALL_HINT) from None
