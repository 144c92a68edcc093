"""The runtime: what a training run needs around the algorithm.

- :mod:`~a3c.runtime.shared`: the model, optimiser, step counter and flags that processes share;
- :mod:`~a3c.runtime.checkpoint`: atomic checkpoints, safe loading, RNG states;
- :mod:`~a3c.runtime.run_dir`: the run directory and ``metrics.csv``;
- :mod:`~a3c.runtime.messages`, :mod:`~a3c.runtime.training_log`: children's reports, and the
  TensorBoard and ``train_metrics.csv`` that the trainer writes from them;
- :mod:`~a3c.runtime.eval_log`: evaluation rounds, their rows and ``best.pt``;
- :mod:`~a3c.runtime.signals`: Ctrl-C and SIGTERM;
- :mod:`~a3c.runtime.progress`: the progress bar or lines;
- :mod:`~a3c.runtime.policy`: a checkpoint ready to play, and parallel greedy episodes.

It imports the algorithm, never the backends or the CLI.
"""
