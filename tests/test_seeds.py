"""Seeds never repeat within a run: every start of every child, over resumes and restarts, gets
seeds of its own (unit level: the trainer's bookkeeping, no processes)."""

from __future__ import annotations

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.task import corridor_task
from a3c.backends.base import EVALUATOR, worker_name
from a3c.backends.local import LocalRun

NUM_PROCESSES = 2
RANKS = {worker_name(0): 0, worker_name(1): 1, EVALUATOR: NUM_PROCESSES}


def _process_seed(trainer: LocalRun, name: str) -> int:
    """The seed the child's process is seeded with (``seed + rank``; see worker.build_envs_and_model)."""
    return trainer._child_config(name).seed + RANKS[name]


def test_no_two_starts_over_segments_and_restarts_share_a_seed(tmp_path):
    config = TrainConfig(env_name="Corridor", num_processes=NUM_PROCESSES, seed=5)
    (tmp_path / "run").mkdir()  # the trainer records each child's starts there
    seen: dict[int, tuple[int, str, int]] = {}
    run_state: dict = {}
    # Segment 0: every child starts; worker 1 is then restarted twice. Segment 1 (a resume):
    # every child starts again; worker 0 is restarted once. Segment 2: all start once more.
    restarts_by_segment = [{worker_name(1): 2}, {worker_name(0): 1}, {}]
    for segment, restarts in enumerate(restarts_by_segment):
        trainer = LocalRun(config, run_dir=tmp_path / "run", task=corridor_task(), quiet=True)
        if segment:
            trainer._continue_from(run_state)
            assert trainer.segment == segment
        for name in RANKS:
            for restart in range(1 + restarts.get(name, 0)):
                seed = _process_seed(trainer, name)
                assert seed not in seen, f"{(segment, name, restart)} reuses the seed of {seen[seed]}"
                seen[seed] = (segment, name, restart)
        run_state = {"segment": segment, "starts": dict(trainer.starts)}  # what the checkpoint keeps
    assert len(seen) == 3 * 3 + 2 + 1
    # The run's very first starts are the seed's: process r seeded with seed + r.
    assert [seed for seed, (segment, _, restart) in seen.items() if segment == 0 and restart == 0] == [5, 6, 7]


def test_a_checkpoint_from_before_starts_were_kept_still_moves_every_child_on(tmp_path):
    (tmp_path / "run").mkdir()
    trainer = LocalRun(TrainConfig(env_name="Corridor", num_processes=NUM_PROCESSES, seed=5), run_dir=tmp_path / "run", task=corridor_task())
    trainer._continue_from({"segment": 0})
    assert {name: _process_seed(trainer, name) for name in RANKS} == {worker_name(0): 8, worker_name(1): 9, EVALUATOR: 10}
