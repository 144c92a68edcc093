import pickle

import pytest
import torch

from a3c.algorithm.model import ActorCritic
from a3c.errors import UserError
from a3c.runtime.checkpoint import (
    load_checkpoint,
    make_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)


def _checkpoint(step: int = 7) -> dict:
    return make_checkpoint(ActorCritic(1, 6), env_id="PongDeterministic-v4", global_step=step, config={"lr": 1e-4})


def test_round_trip_holds_weights_config_game_and_step(tmp_path):
    model = ActorCritic(1, 6)
    ck = make_checkpoint(model, env_id="PongDeterministic-v4", global_step=1234, config={"lr": 1e-4}, eval_reward=3.0)
    path = save_checkpoint(ck, tmp_path / "c.pt")
    loaded = load_checkpoint(path)
    assert loaded["env_id"] == "PongDeterministic-v4" and loaded["global_step"] == 1234
    assert loaded["config"] == {"lr": 1e-4} and loaded["eval_reward"] == 3.0 and loaded["num_actions"] == 6
    rebuilt = model_from_checkpoint(loaded)
    for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values(), strict=False):
        assert torch.equal(a, b)


def test_a_crash_mid_write_leaves_the_previous_checkpoint_readable(tmp_path, monkeypatch):
    path = save_checkpoint(_checkpoint(1), tmp_path / "latest.pt")

    def torn_save(obj, handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError):
        save_checkpoint(_checkpoint(2), path)
    monkeypatch.undo()
    assert load_checkpoint(path)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temp files left behind


class _Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('pwned').write_text('x')",))


def test_loading_never_runs_pickled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": "a3c-checkpoint", "payload": _Evil()}, path)
    with pytest.raises(UserError):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "content, fragment",
    [(b"", "is empty"), (b"hello, not a checkpoint", "not a readable a3c checkpoint"), (pickle.dumps([1, 2]), "not a readable")],
)
def test_unusable_files_are_rejected_with_one_line(tmp_path, content, fragment):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_truncated_and_foreign_files_are_rejected(tmp_path):
    good = save_checkpoint(_checkpoint(), tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match="not a readable"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="is not an a3c checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(UserError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def _corridor_checkpoint(tmp_path, optimizer: str = "adam"):
    from a3c.algorithm.optim import make_optimizer
    from a3c.algorithm.task import corridor_task

    task = corridor_task()
    model = task.make_model(task.make_env(0))
    for p in model.parameters():
        p.data.normal_()
    adam = make_optimizer(optimizer, model.parameters(), 1e-3)
    model(torch.ones(1, 10))[0].sum().backward()
    adam.step()
    ck = make_checkpoint(model, env_id="Corridor", global_step=5000, config={"optimizer": optimizer}, optimizer_state=adam.state_dict())
    return task, model, adam, save_checkpoint(ck, tmp_path / "trained.pt")


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_init_from_starts_a_new_run_with_the_checkpoints_weights_and_statistics(tmp_path, optimizer):
    from a3c.algorithm.config import TrainConfig
    from a3c.backends.local import LocalRun

    task, trained, trained_optimizer, path = _corridor_checkpoint(tmp_path, optimizer)
    config = TrainConfig(env_name="Corridor", num_processes=1, init_from=str(path), lr=1e-5)
    model, shared_optimizer, step = LocalRun(config, tmp_path / "finetune", task)._build_model(None)
    assert step == 0  # the new run counts its own steps
    for a, b in zip(trained.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # Adam's moments carry over; RMSprop's would not fit Adam, so they start fresh.
    moments = shared_optimizer.state_dict()["state"]
    if optimizer == "adam":
        saved = trained_optimizer.state_dict()["state"]
        assert all(torch.equal(moments[i]["exp_avg"], saved[i]["exp_avg"]) for i in saved)
    else:
        assert all(float(s["exp_avg"].abs().sum()) == 0 for s in moments.values())


def test_init_from_a_checkpoint_of_another_network_is_one_clear_line(tmp_path):
    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.task import corridor_task
    from a3c.backends.local import LocalRun

    path = save_checkpoint(_checkpoint(), tmp_path / "pong.pt")
    config = TrainConfig(env_name="Corridor", num_processes=1, init_from=str(path))
    with pytest.raises(UserError, match=r"cannot start from .*pong.pt.*does not match this run's network"):
        LocalRun(config, tmp_path / "run", corridor_task())._build_model(None)
    # An agent that sees other frames would start from weights that mean nothing to it.
    grey = make_checkpoint(ActorCritic(1, 6), env_id="PongDeterministic-v4", global_step=1, config={"frames": "grey"})
    config = TrainConfig(num_processes=1, init_from=str(save_checkpoint(grey, tmp_path / "grey.pt")))
    with pytest.raises(UserError, match="was trained on grey frames; pass --frames grey to start from it"):
        LocalRun(config, tmp_path / "run3")



def test_init_from_a_missing_file_is_one_line_and_creates_no_run_dir(tmp_path, run_cli):
    code, out, err = run_cli("train", "--init-from", str(tmp_path / "missing.pt"), "--run-dir", str(tmp_path / "run"))
    assert code != 0 and err.strip().splitlines() == [f"a3c: error: checkpoint not found: {str(tmp_path / 'missing.pt')!r}"]
    assert not (tmp_path / "run").exists()
