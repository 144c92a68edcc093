"""The Ray backend: the same update as the local one, learning, a killed worker actor, the CLI's
run dir and resume through Ray, two nodes of a simulated cluster, and one-line answers when Ray
is not installed or no cluster answers.

CI installs the ``ray`` extra; ``pytest.importorskip`` only keeps a checkout without it green.
The tests that need a running Ray share one simulated cluster of two 1-CPU nodes on this machine.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import gymnasium as gym
import pytest
import torch
import yaml
from test_training import assert_learned_the_corridor, corridor_learning_config

from a3c.algorithm.config import TrainConfig, resume_config
from a3c.algorithm.envs import make_corridor
from a3c.algorithm.model import MLPActorCritic
from a3c.algorithm.optim import SharedAdam
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import corridor_task
from a3c.algorithm.worker import Worker
from a3c.backends.base import TrainingFailed
from a3c.backends.local import LocalRun
from a3c.runtime.checkpoint import load_checkpoint
from a3c.runtime.signals import Terminated


@pytest.fixture(scope="module")
def ray_module():
    ray = pytest.importorskip("ray")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_session(ray_module):
    """A simulated cluster on this machine, started by the first test that needs it and shared by
    the rest: two Ray nodes of 1 CPU each (``ray.cluster_utils.Cluster``). Each worker asks for a
    CPU, so Ray places one on each node, and gradients and weights cross between nodes."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray_module.init(address=cluster.address, logging_level="WARNING")
        yield ray_module
    finally:
        ray_module.shutdown()
        cluster.shutdown()


def _a3c(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "a3c", *args], capture_output=True, text=True, timeout=timeout)


def test_backend_ray_without_ray_says_how_to_install_it(run_cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if Ray were not installed
    for name in ("a3c.backends.ray", "a3c.backends.ray.actors", "a3c.backends.ray.driver"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    run = tmp_path / "run"
    code, out, err = run_cli("train", "--backend", "ray", "--run-dir", str(run), "--max-steps", "10")
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().splitlines() == ["a3c: error: --backend ray needs Ray, which is not installed: pip install 'a3c[ray]' (or pip install 'ray>=2.9')"]
    assert not run.exists()
    code, out, err = run_cli("train", "--address", "auto", "--run-dir", str(run))
    assert code == 2 and "add --backend ray" in err and not run.exists()


def test_an_address_where_no_cluster_answers_is_one_line_and_writes_nothing(ray_module, tmp_path):
    run = tmp_path / "run"
    proc = _a3c("train", "--backend", "ray", "--address", "127.0.0.1:1", "--max-steps", "10", "--run-dir", str(run), timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "a3c: error: no Ray cluster answers at '127.0.0.1:1'; start one with `ray start --head` and pass the address it prints"
    )
    assert not run.exists()


def test_a_worker_actor_update_is_exactly_the_local_update(ray_module):
    """The Ray worker runs the local worker's compute_gradients(); the parameter server's apply()
    then moves the weights exactly as the local hand-off and shared optimiser step do."""
    from a3c.backends.ray.actors import (
        ParameterServer,
        ServerLink,
        flat_gradients,
    )

    config = TrainConfig(env_name="Corridor", num_steps=5, num_processes=1, lr=0.01)

    def local_run() -> list[torch.Tensor]:
        seed_process(0)
        shared_model, local_model = MLPActorCritic(10, 3), MLPActorCritic(10, 3)
        optimizer = SharedAdam(shared_model.parameters(), lr=config.lr)
        worker = Worker(config, make_corridor(0), local_model, ModelLink(shared_model), optimizer)
        for _ in range(10):
            worker.update()
        return [p.detach().clone() for p in shared_model.parameters()]

    def server_run() -> tuple[list[torch.Tensor], int]:
        seed_process(0)
        server_model, local_model = MLPActorCritic(10, 3), MLPActorCritic(10, 3)
        server = ParameterServer(server_model, config, None, global_step=100)
        link = ServerLink(*server.weights(), max_steps=10**9)
        worker = Worker(config, make_corridor(0), local_model, link)
        for _ in range(10):
            stats = worker.compute_gradients()
            link.weights, step = server.apply(0, flat_gradients(worker.model), stats.steps)
        return [p.detach().clone() for p in server_model.parameters()], step

    expected = local_run()
    got, step = server_run()
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=False))
    assert step > 100 + 10  # the server counts every env step on top of where it started

    # A skipped (non-finite) update counts its steps and leaves the weights alone; --no-shared
    # gives each worker rank its own statistics, and a checkpoint then holds none.
    server = ParameterServer(MLPActorCritic(10, 3), TrainConfig(env_name="Corridor", no_shared=True), None, 0)
    before, _ = server.weights()
    weights, step = server.apply(0, None, 7)
    assert step == 7 and (weights == before).all()
    gradient = flat_gradients(_model_with_gradients())
    server.apply(0, gradient, 1)
    server.apply(1, gradient, 1)
    assert sorted(server.optimizers) == [0, 1] and server.optimizers[0] is not server.optimizers[1]
    assert server.state()[1] is None


class ModelLink:
    """A worker linked to a model in this process: syncs from it, counts nothing, never stops."""

    global_step = 0

    def __init__(self, model):
        self.model = model

    def sync(self, model):
        model.load_state_dict(self.model.state_dict())

    def count_steps(self, n):
        pass

    def should_stop(self):
        return False


def _model_with_gradients() -> MLPActorCritic:
    model = MLPActorCritic(10, 3)
    value, logits, _ = model(torch.randn(1, 10))
    (value.sum() + logits.sum()).backward()
    return model


@pytest.mark.slow
def test_the_ray_backend_learns_the_corridor_through_a_killed_worker_actor(ray_session, tmp_path, capsys):
    from a3c.backends.ray.driver import RayRun

    # The batched Corridor learning run of tests/test_training.py, with the same checks. Batches
    # keep the updates, and so the round trips to the server, few; the evaluator plays once every
    # 3,000 global steps, as there, where 9-step Corridor episodes one after another would keep
    # the driver busy.
    # Early on, worker 1's actor process is killed: Ray restarts it and it trains on.
    config = corridor_learning_config("batched", max_restarts=1)
    trainer = RayRun(config, run_dir=tmp_path / "run", task=corridor_task(), progress_interval_s=3600)
    killed: dict[str, int] = {}

    def kill_worker_1() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if trainer.slices.get("a3c-worker-1", 0) >= 1 and trainer.global_step >= 2_000:
                actor = ray_session.get_actor(trainer.actor_name("a3c-worker-1"))
                killed.update(step=trainer.global_step, slices=trainer.slices["a3c-worker-1"])
                ray_session.kill(actor, no_restart=False)  # Ray restarts its process, as after a crash
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_worker_1, daemon=True)
    killer.start()
    result = trainer.train()
    killer.join(timeout=5)
    out = capsys.readouterr().out
    assert killed, "the worker was never killed"
    assert "a3c-worker-1 died (its process died) at step" in out and "restarting it (1/1)" in out
    assert trainer.slices["a3c-worker-0"] > 0 and trainer.slices["a3c-worker-1"] > killed["slices"]  # the restarted actor trained on
    assert trainer.restarts == {"a3c-worker-1": 1}
    assert trainer.nodes["a3c-worker-0"] != trainer.nodes["a3c-worker-1"]  # one on each node
    assert result.exit_codes == {"a3c-worker-0": 0, "a3c-worker-1": 0, "a3c-evaluator": 0}
    assert_learned_the_corridor(result, config)
    with (result.run_dir / "metrics.csv").open() as f:
        weights_steps = [int(row["weights_step"]) for row in csv.DictReader(f)]
    assert len(weights_steps) >= 2 and min(b - a for a, b in zip(weights_steps, weights_steps[1:], strict=False)) >= 3000
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved == config.to_dict() and "# backend: ray" in (result.run_dir / "config.yaml").read_text()


@pytest.mark.slow
def test_cli_trains_pong_on_a_ray_cluster_resumes_through_ray_and_stops_on_sigterm(ray_session, run_cli, tmp_path, monkeypatch):
    run = tmp_path / "pong"
    # A second driver joins this test's Ray by its address, as a user joins a cluster.
    address = ray_session.get_runtime_context().gcs_address
    proc = _a3c("train", "--backend", "ray", "--address", address, "--num-processes", "2", "--max-steps", "1000", "--run-dir", str(run))
    assert proc.returncode == 0, proc.stderr
    assert "with 2 workers + 1 evaluator on Ray (2 nodes, 2 CPUs)" in proc.stdout and "[a3c] done: " in proc.stdout
    assert "parameter server: " in proc.stdout
    assert not any(c in proc.stdout + proc.stderr for c in "\r\x1b")  # not a terminal: plain lines, no colours
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["num_processes"], saved["max_steps"], saved["envs_per_worker"]) == (2, 1000, 8)
    assert (run / "metrics.csv").read_text().startswith("wall_time_s,global_steps,fps,")
    assert (run / "train_metrics.csv").read_text().startswith("wall_time_s,global_steps,steps_per_s,")
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    first = load_checkpoint(run / "checkpoints" / "latest.pt")
    rollout = saved["envs_per_worker"] * saved["num_steps"]  # the most one worker's last update overshoots by
    assert first["env_id"] == "PongDeterministic-v4" and 1000 <= first["global_step"] < 1000 + 2 * rollout
    step_count = lambda checkpoint: checkpoint["optimizer"]["state"][0]["step"].item()  # noqa: E731
    assert step_count(first) > 0 and first["run_state"]["segment"] == 0

    # Resume through Ray, in this process (which is connected already): it carries on from the
    # checkpoint until a SIGTERM, which stops the actors and saves a checkpoint as the local backend does.
    from a3c.backends.base import TrainingRun

    report = TrainingRun._report

    def report_then_sigterm_once_trained_on(self, final: bool = False) -> None:
        report(self, final)
        if self.global_step >= first["global_step"] + 500 and self.signals.received is None:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(TrainingRun, "_report", report_then_sigterm_once_trained_on)
    code, out, err = run_cli("train", "--backend", "ray", "--resume", str(run), "--max-steps", "1000000")
    assert code == 143, err
    assert f"resuming at step {first['global_step']:,}" in out and "SIGTERM: stopping" in out
    assert f"resume with: a3c train --resume {run}" in err and "Traceback" not in out + err
    final = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert first["global_step"] + 500 <= final["global_step"] < 1_000_000
    assert step_count(final) > step_count(first) and final["run_state"]["segment"] == 1
    assert final["run_state"]["wall_time_s"] > first["run_state"]["wall_time_s"]
    assert len(list(run.glob("events.out.tfevents.*"))) == 2


def _when(run, predicate, then, timeout_s: float = 180.0) -> threading.Thread:
    """Run ``then()`` in a thread once ``predicate()`` holds (checked every 50 ms). If it never
    holds, or either raises, the thread says why and stops ``run`` as a SIGTERM would: the test
    then fails on its own checks, with the reason in its output, rather than hanging to its timeout."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if predicate():
                    then()
                    return
                time.sleep(0.05)
            print(f"_when: {predicate} did not hold within {timeout_s:g} s", file=sys.stderr)
        except Exception as error:  # reported, and the run stopped, below
            print(f"_when: {error!r}", file=sys.stderr)
        run.signals.received = signal.SIGTERM

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


class _RaisingEnv(gym.Wrapper):
    """The Corridor, until its 300th step, which raises."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == 300:
            raise ValueError("boom in the env")
        return self.env.step(action)


def _raising_corridor(seed):
    return _RaisingEnv(make_corridor(seed))


def _fault_config(**extra) -> TrainConfig:
    # Batched workers keep the round trips to the server few, as in the learning test above.
    return TrainConfig(**{"env_name": "Corridor", "num_processes": 2, "max_steps": 10**9, "num_steps": 5, "envs_per_worker": 4,
                          "eval_interval_s": 1.0, **extra})


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_hung_ray_worker_is_killed_and_restarted(ray_session, tmp_path, capsys):
    from a3c.backends.ray.driver import RayRun

    # A worker actor's process stopped (SIGSTOP): its slice is overdue, so it is killed and restarted.
    run = RayRun(_fault_config(heartbeat_timeout_s=5, max_restarts=2), run_dir=tmp_path / "run", task=corridor_task(), progress_interval_s=3600)
    stopped: dict[str, int] = {}

    def stop_worker_1() -> None:
        actor = ray_session.get_actor(run.actor_name("a3c-worker-1"))
        stopped["pid"] = ray_session.get(actor.pid.remote())
        os.kill(stopped["pid"], signal.SIGSTOP)

    _when(run, lambda: run.slices.get("a3c-worker-1", 0) >= 2, stop_worker_1)
    _when(run, lambda: run.restarts.get("a3c-worker-1", 0) >= 1 and run.slices.get("a3c-worker-1", 0) >= 4,
          lambda: setattr(run.signals, "received", signal.SIGTERM))  # then a SIGTERM, as the watch loop sees one
    with pytest.raises(Terminated):
        run.train()
    out = capsys.readouterr().out
    assert stopped and "a3c-worker-1 hung (no reply for" in out and "killed) at step" in out
    assert run.slices["a3c-worker-1"] >= 4  # the new actor trained on


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_exception_in_a_ray_actor_is_one_line_and_its_traceback_goes_to_errors_log(ray_session, tmp_path, capsys):
    from a3c.algorithm.task import Task, mlp_model
    from a3c.backends.ray.driver import RayRun

    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actors cannot import tests/
    task = Task("Corridor", _raising_corridor, mlp_model)
    with pytest.raises(TrainingFailed, match=r"a3c-worker-\d died \(ValueError: boom in the env; traceback in .*errors.log\) after 0 restarts"):
        RayRun(_fault_config(max_restarts=0), run_dir=tmp_path / "run", task=task, progress_interval_s=3600).train()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    log = (tmp_path / "run" / "errors.log").read_text()
    assert "in step" in log and "raise ValueError" in log and "boom in the env" in log  # the remote stack


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_dead_parameter_server_stops_the_run_in_one_line_with_the_last_checkpoint_kept(ray_session, tmp_path):
    from a3c.backends.ray.driver import RayRun

    run = RayRun(_fault_config(checkpoint_interval_steps=500), run_dir=tmp_path / "run", task=corridor_task(), progress_interval_s=3600)
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    _when(run, lambda: latest.exists() and run.global_step > 2_000, lambda: ray_session.kill(ray_session.get_actor(run.actor_name("a3c-parameter-server"))))
    with pytest.raises(TrainingFailed) as failed:
        run.train()
    kept = load_checkpoint(latest)
    message = str(failed.value)
    assert message.startswith("the parameter server died") and "\n" not in message
    assert f"the last good checkpoint is kept ({latest}, step {kept['global_step']:,})" in message and "resume with" in message
    config = resume_config(tmp_path / "run", max_steps=kept["global_step"] + 500)
    resumed = LocalRun(config, run_dir=tmp_path / "run", task=corridor_task(), quiet=True, resume=True).train()
    assert resumed.global_step >= kept["global_step"] + 500


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(sys.platform != "linux", reason="process groups and signals as in a Linux terminal")
def test_plain_backend_ray_starts_its_own_ray_and_ctrl_c_stops_everything_as_on_the_local_backend(ray_module, tmp_path):
    import psutil
    from proctree import sigint_default

    run, out_path, err_path = tmp_path / "run", tmp_path / "out.txt", tmp_path / "err.txt"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # no --address and no cluster to join
    cmd = [sys.executable, "-m", "a3c", "train", "--backend", "ray", "--num-processes", "2", "--envs-per-worker", "2",
           "--max-steps", "1000000000", "--log-interval", "1", "--run-dir", str(run)]
    with out_path.open("w") as out, err_path.open("w") as err:
        # A new session, so that the group's SIGINT reaches the driver and all it started, as a terminal's Ctrl-C does.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True, preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 300
        def trained() -> bool:  # a row of train_metrics.csv with steps in it
            rows = (run / "train_metrics.csv").read_text().splitlines()[1:] if (run / "train_metrics.csv").exists() else []
            return any(int(row.split(",")[1]) > 0 for row in rows if row.count(",") > 2)

        while not trained():
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.5)
        started = psutil.Process(proc.pid).children(recursive=True)  # Ray's own processes and the actors
        assert len(started) >= 4
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = out_path.read_text(), err_path.read_text()
    assert "on Ray (1 node, " in out  # a Ray of its own, on this machine
    assert proc.returncode == 130, err
    assert f"resume with: a3c train --resume {run}" in err and "Traceback" not in out + err
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["global_step"] > 0
    _, alive = psutil.wait_procs(started, timeout=90)  # Ray ends its own processes in its own time
    assert not alive, f"left running: {alive}"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_ray_evaluator_is_restarted_and_evaluates_on(ray_session, tmp_path, capsys):
    from a3c.backends.base import EVALUATOR
    from a3c.backends.ray.driver import RayRun

    metrics = tmp_path / "run" / "metrics.csv"
    rows = lambda: len(metrics.read_text().splitlines()) - 1 if metrics.exists() else 0  # noqa: E731
    # eval_interval_s 0: the evaluator plays one episode after another, so the kill lands in one.
    run = RayRun(_fault_config(max_restarts=1, eval_interval_s=0.0, eval_episodes=1), run_dir=tmp_path / "run", task=corridor_task(),
                 progress_interval_s=3600)
    killed: dict[str, int] = {}

    def kill_evaluator() -> None:
        killed["rows"] = rows()
        ray_session.kill(ray_session.get_actor(run.actor_name(EVALUATOR)), no_restart=False)  # as after a crash

    _when(run, lambda: rows() >= 3, kill_evaluator)
    _when(run, lambda: run.restarts.get(EVALUATOR, 0) >= 1 and rows() >= killed["rows"] + 3,
          lambda: setattr(run.signals, "received", signal.SIGTERM))
    with pytest.raises(Terminated):
        run.train()
    out = capsys.readouterr().out
    assert killed and "a3c-evaluator died (" in out and "restarting it (1/1)" in out
    assert rows() >= killed["rows"] + 3  # the new evaluator played on


@pytest.mark.parametrize("rule, ended_by, length", [("screen", "max_length", 300), ("actions", "stuck", 100)])
def test_the_ray_evaluator_plays_under_the_runs_stuck_guard(ray_module, monkeypatch, rule, ended_by, length):
    import types

    from test_evaluator import _moving_screen

    from a3c.algorithm.task import Task, mlp_model
    from a3c.backends.ray import actors

    # In-process, as the other actor tests: only the node id needs a running Ray.
    monkeypatch.setattr(actors.ray, "get_runtime_context", lambda: types.SimpleNamespace(get_node_id=lambda: "node"))
    evaluator = actors.Evaluator(Task("Scripted", _moving_screen, mlp_model))
    evaluator.start(TrainConfig(env_name="Scripted", num_processes=1, eval_episodes=1, stuck_guard=rule, max_episode_length=300))
    [result] = evaluator.play(actors.flat_parameters(MLPActorCritic(4, 1)))
    assert (result.ended_by, result.length) == (ended_by, length)
