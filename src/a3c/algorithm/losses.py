"""The A3C loss of one rollout: GAE(lambda) policy loss, n-step value loss, entropy bonus.

Tensors are time-major, shape ``(T, N)`` for T steps of N envs; the classic worker has N = 1.
Losses are summed over steps and envs, as in the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RolloutLoss:
    policy_loss: torch.Tensor
    """-sum(log_prob * GAE) - entropy_coef * sum(entropy)."""
    value_loss: torch.Tensor
    """sum(0.5 * (R - V)^2), R the n-step return."""
    entropy: torch.Tensor
    """sum of the policy entropies (detached, for logging)."""
    advantages: torch.Tensor
    """GAE advantages, (T, N), detached, before any normalisation."""
    returns: torch.Tensor
    """n-step returns, (T, N), detached."""

    def total(self, value_loss_coef: float) -> torch.Tensor:
        return self.policy_loss + value_loss_coef * self.value_loss


def a3c_loss(
    log_probs: torch.Tensor,
    entropies: torch.Tensor,
    values: torch.Tensor,
    rewards: torch.Tensor,
    bootstrap_value: torch.Tensor,
    dones: torch.Tensor | None,
    gamma: float,
    gae_lambda: float,
    entropy_coef: float,
    normalize_advantages: bool = False,
) -> RolloutLoss:
    """Compute the losses of one rollout.

    Args:
        log_probs: log pi(a_t | s_t) of the actions taken, (T, N), with grad.
        entropies: policy entropies at each step, (T, N), with grad.
        values: V(s_t), (T, N), with grad.
        rewards: clipped rewards r_t, (T, N).
        bootstrap_value: V(s_T) for the state after the rollout, (N,); pass zeros where the
            episode ended (the seed's R = 0). It is detached here.
        dones: (T, N) flags, true where the episode ended at step t, so that neither returns nor
            advantages flow across an episode boundary inside the rollout. ``None`` for the
            classic worker, whose rollout stops at an episode's end.
        normalize_advantages: weight the policy gradient by the advantages shifted and scaled to
            mean 0 and standard deviation 1 over the rollout's T x N samples, as PPO
            implementations do. A rollout of one sample keeps its raw advantage: it has no spread.
    """
    steps = rewards.shape[0]
    not_done = torch.ones_like(rewards) if dones is None else 1.0 - dones.to(rewards.dtype)
    values_detached = values.detach()
    ret = bootstrap_value.detach().to(rewards.dtype)
    next_value = ret
    gae = torch.zeros_like(ret)
    advantages = torch.empty_like(rewards)
    returns = torch.empty_like(rewards)
    for t in reversed(range(steps)):
        ret = rewards[t] + gamma * ret * not_done[t]
        delta = rewards[t] + gamma * next_value * not_done[t] - values_detached[t]
        gae = gae * gamma * gae_lambda * not_done[t] + delta
        returns[t] = ret
        advantages[t] = gae
        next_value = values_detached[t]
    value_loss = (0.5 * (returns - values).pow(2)).sum()
    weights = advantages
    if normalize_advantages and advantages.numel() > 1:
        weights = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -(log_probs * weights).sum() - entropy_coef * entropies.sum()
    return RolloutLoss(policy_loss, value_loss, entropies.detach().sum(), advantages, returns)
