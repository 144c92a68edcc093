"""The local backend's waits (:class:`a3c.runtime.shared.SharedState`): each ends on its own
condition, on a stop, or at its deadline, and beats for its slot while it waits.

Time is a fake clock that each poll's sleep advances, so nothing here depends on the machine's
speed, and a wait that never ends fails on the suite's timeout instead of passing by luck.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

import pytest

from a3c.algorithm.model import MLPActorCritic
from a3c.runtime import shared as shared_module
from a3c.runtime.shared import SharedState


class FakeClock:
    """Stands in for the ``time`` module in :mod:`a3c.runtime.shared`: ``sleep`` advances
    ``monotonic`` and runs ``on_poll`` with the number of polls so far."""

    def __init__(self, on_poll: Callable[[int], object] = lambda polls: None) -> None:
        self.now = 1000.0
        self.polls = 0
        self.naps: list[float] = []
        self.on_poll = on_poll

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.polls += 1
        self.naps.append(seconds)
        self.now += seconds
        self.on_poll(self.polls)


@pytest.fixture
def state() -> SharedState:
    return SharedState.create(MLPActorCritic(4, 2), None, mp.get_context("spawn"), slots=2)


def use_clock(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> FakeClock:
    monkeypatch.setattr(shared_module, "time", clock)
    return clock


def test_sleep_waits_its_whole_time_in_short_naps_and_beats_throughout(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock())
    state.sleep(2.0, slot=1)
    assert clock.now == pytest.approx(1002.0)
    assert max(clock.naps) <= 0.1 + 1e-9  # a stop is seen within a tenth of a second
    assert state.heartbeats[1] == pytest.approx(clock.now - clock.naps[-1])  # beat before the last nap
    assert state.heartbeats[0] == 0.0  # only its own slot


def test_sleep_ends_at_once_when_the_run_is_stopped(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock(on_poll=lambda polls: polls == 3 and state.request_stop()))
    state.sleep(1e9, slot=0)
    assert clock.polls == 3


def test_wait_for_step_ends_when_the_workers_have_counted_the_steps(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock(on_poll=lambda polls: state.add_steps(100, slot=0)))
    state.wait_for_step(450, slot=1, max_steps=10_000)
    assert state.global_step == 500 and clock.polls == 5
    assert state.heartbeats[1] > 0.0


def test_wait_for_step_past_max_steps_ends_at_max_steps(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock(on_poll=lambda polls: state.add_steps(100, slot=0)))
    state.wait_for_step(10_000, slot=1, max_steps=300)
    assert state.global_step == 300 and clock.polls == 3


def test_wait_for_step_counts_the_steps_a_resumed_run_started_from(monkeypatch, state):
    state.start_step = 1_000
    clock = use_clock(monkeypatch, FakeClock(on_poll=lambda polls: state.add_steps(100, slot=0)))
    state.wait_for_step(1_200, slot=1, max_steps=10_000)
    assert clock.polls == 2


def test_wait_for_evaluator_ends_when_it_is_ready(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock(on_poll=lambda polls: polls == 4 and state.mark_evaluator_ready()))
    state.wait_for_evaluator(slot=0, timeout_s=1e9)
    assert clock.polls == 4


def test_wait_for_evaluator_gives_up_after_its_timeout(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock())
    state.wait_for_evaluator(slot=0, timeout_s=3.0)
    assert clock.now == pytest.approx(1003.0)
    assert not state.flags[1]


def test_no_wait_polls_when_its_condition_already_holds(monkeypatch, state):
    clock = use_clock(monkeypatch, FakeClock())
    state.mark_evaluator_ready()
    state.add_steps(50, slot=0)
    state.wait_for_evaluator(slot=0)
    state.wait_for_step(50, slot=1, max_steps=100)
    state.request_stop()
    state.sleep(60.0, slot=0)
    assert clock.polls == 0
