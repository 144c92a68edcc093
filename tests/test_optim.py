import copy

import pytest
import torch

from a3c import SharedAdam, SharedRMSprop


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(5, 3, generator=g)), torch.nn.Parameter(torch.randn(7, generator=g))]


@pytest.mark.parametrize("kwargs", [{"lr": 1e-3}, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01}])
def test_shared_adam_matches_torch_adam(kwargs):
    ours_p, ref_p = _params(), _params()
    ours, ref = SharedAdam(ours_p, **kwargs), torch.optim.Adam(ref_p, **kwargs)
    ours.share_memory()
    g = torch.Generator().manual_seed(1)
    for _ in range(25):
        grads = [torch.randn(p.shape, generator=g) * 10 for p in ours_p]
        for p, q, grad in zip(ours_p, ref_p, grads, strict=False):
            p.grad, q.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
    for p, q in zip(ours_p, ref_p, strict=False):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert ours.state[ours_p[0]]["step"].item() == 25


def test_share_memory_moves_all_statistics_including_step_counts():
    params = _params()
    for optimizer in (SharedAdam(params), SharedRMSprop(params)):
        tensors = [t for p in params for t in optimizer.state[p].values()]
        assert tensors and not any(t.is_shared() for t in tensors)
        optimizer.share_memory()
        assert all(t.is_shared() for t in tensors)


def test_shared_rmsprop_is_the_papers_update():
    params = _params()
    before = [p.detach().clone() for p in params]
    opt = SharedRMSprop(params, lr=0.01, alpha=0.9, eps=0.1)
    grads = [torch.full_like(p, 2.0) for p in params]
    for p, grad in zip(params, grads, strict=False):
        p.grad = grad
    opt.step()
    # g = 0.9 * 0 + 0.1 * 4 = 0.4; p -= 0.01 * 2 / sqrt(0.4 + 0.1)
    expected_step = 0.01 * 2 / (0.5**0.5)
    for p, b in zip(params, before, strict=False):
        torch.testing.assert_close(b - p.detach(), torch.full_like(p, expected_step))
    opt.step()
    # g = 0.9 * 0.4 + 0.1 * 4 = 0.76
    for p, b in zip(params, before, strict=False):
        torch.testing.assert_close(b - p.detach(), torch.full_like(p, expected_step + 0.01 * 2 / (0.86**0.5)))


def test_state_dict_round_trip_keeps_statistics():
    params = _params()
    opt = SharedAdam(params, lr=0.1)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    saved = copy.deepcopy(opt.state_dict())
    other = SharedAdam(_params(), lr=0.1)
    other.load_state_dict(saved)
    first = other.state[other.param_groups[0]["params"][0]]
    assert first["step"].item() == 1
    torch.testing.assert_close(first["exp_avg"], torch.full((5, 3), 0.1))


def test_shared_adam_steps_only_the_parameters_with_a_gradient():
    """A parameter without a gradient (unused by this rollout's loss) keeps its value and its
    statistics; the others take exactly torch.optim.Adam's step."""
    ours_p, ref_p = _params(), _params()
    ours, ref = SharedAdam(ours_p, lr=0.1), torch.optim.Adam(ref_p[:1], lr=0.1)
    ours.share_memory()
    for _ in range(3):
        ours_p[0].grad, ref_p[0].grad = torch.ones(5, 3), torch.ones(5, 3)
        ours.step()
        ref.step()
    torch.testing.assert_close(ours_p[0], ref_p[0])
    torch.testing.assert_close(ours_p[1], ref_p[1])
    assert ours.state[ours_p[0]]["step"].item() == 3 and ours.state[ours_p[1]]["step"].item() == 0
    assert ours.state[ours_p[1]]["exp_avg"].abs().sum() == 0


def test_shared_adam_step_count_stays_exact_past_float32s_range():
    """The count is float64 and shared: float32 would stop counting at 2**24 updates, and the
    bias correction would then freeze."""
    params = _params()
    opt = SharedAdam(params, lr=0.1).share_memory()
    for p in params:
        opt.state[p]["step"].fill_(2**24)
        p.grad = torch.ones_like(p)
    opt.step()
    assert all(opt.state[p]["step"].item() == 2**24 + 1 for p in params)
    assert all(opt.state[p]["step"].dtype == torch.float64 and opt.state[p]["step"].is_shared() for p in params)
