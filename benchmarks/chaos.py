"""Chaos: train while children are killed or stopped at random, and the trainer is killed once.

    python benchmarks/chaos.py --minutes 10 --out docs/results/chaos-epyc
    python benchmarks/chaos.py --minutes 2 --min-gap 10 --max-gap 20 --out /tmp/chaos-smoke -- --envs-per-worker 2

Two runs of ``a3c train`` (the ``fast`` preset; flags after ``--`` go to both), each for
``--minutes`` of wall time:

1. **clean**: no fault, for the baseline of global steps;
2. **chaos**: every ``--min-gap`` to ``--max-gap`` seconds (30-60), a random worker or the
   evaluator gets SIGKILL or SIGSTOP (the heartbeat check must find a stopped one: it is alive but
   silent); once, half way, the trainer itself gets SIGKILL and the run goes on with
   ``a3c train --resume`` for the time left.

Then it checks that every checkpoint in the run dir loads, every row of ``metrics.csv`` and
``train_metrics.csv`` parses, no temp file is left and no process survives, and writes
``OUT.json`` and ``OUT.md``: the faults injected and survived, and the steps lost against the
clean run. Not a test: it takes twice ``--minutes`` and both cores. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import machine_info  # noqa: E402

from a3c.runtime.checkpoint import load_checkpoint  # noqa: E402


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def spawned_children(pid: int) -> list[int]:
    """The trainer's worker and evaluator processes, in start order: its forkserver's children
    (or its own spawned ones, where the start method is spawn)."""
    kids = _children(pid)
    servers = [k for k in kids if "multiprocessing.forkserver" in _cmdline(k)]
    return sorted([k for k in kids if "spawn_main" in _cmdline(k)] + [c for server in servers for c in _children(server)])


def train(run: Path, seconds: float, flags: list[str], resume: bool = False) -> subprocess.Popen:
    command = [sys.executable, "-m", "a3c", "train"]
    command += ["--resume", str(run)] if resume else ["--run-dir", str(run), "--max-steps", str(10**10), *flags]
    # Not --quiet: the log keeps the trainer's line for each hang, death and restart.
    command += ["--max-seconds", f"{seconds:.0f}"]
    # The trainer's log goes to a file beside the run dir: a pipe nobody reads would fill and block it.
    run.parent.mkdir(parents=True, exist_ok=True)
    with open(run.parent / f"{run.name}.log", "a") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)


def last_step(run: Path) -> int:
    try:
        return int(load_checkpoint(run / "checkpoints" / "latest.pt")["global_step"])
    except Exception:
        return 0


def chaos_run(run: Path, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    faults: list[dict[str, Any]] = []
    total = args.minutes * 60
    start = time.monotonic()
    proc = train(run, total, args.train_flags)
    trainer_killed = False
    next_fault = start + rng.uniform(args.min_gap, args.max_gap)
    codes = []
    while True:
        now = time.monotonic()
        if proc.poll() is not None:  # the run's time is up (or it failed)
            codes.append(proc.returncode)
            break
        if not trainer_killed and now - start >= total / 2:
            faults.append({"t": round(now - start, 1), "target": "trainer", "signal": "SIGKILL", "step_before": last_step(run)})
            children = spawned_children(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 30
            while any(Path(f"/proc/{c}").exists() and Path(f"/proc/{c}/stat").read_text().split()[2] != "Z" for c in children):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            faults[-1]["children_gone_after_s"] = round(time.monotonic() - now, 1)
            trainer_killed = True
            codes.append(-9)
            # Go on from latest.pt for the time left, as a user would with --resume.
            proc = train(run, total - (time.monotonic() - start), [], resume=True)
            continue
        if now >= next_fault:
            children = spawned_children(proc.pid)
            if children:
                victim = rng.choice(children)
                how = rng.choice(["SIGKILL", "SIGSTOP"])
                try:
                    os.kill(victim, getattr(signal, how))
                    faults.append({"t": round(now - start, 1), "target": f"child {victim}", "pid": victim, "signal": how})
                except ProcessLookupError:
                    pass
            next_fault = now + rng.uniform(args.min_gap, args.max_gap)
        time.sleep(0.5)
    log = (run.parent / f"{run.name}.log").read_text()
    lines = log.splitlines()
    return {
        "faults": faults,
        "exit_codes": codes,
        "hangs_logged": sum(" hung (" in line for line in lines),
        "deaths_logged": sum(" died (" in line for line in lines),
        "restarts_logged": sum("restarting it" in line for line in lines),
        "log_tail": log[-3000:],
    }


def check_run_dir(run: Path) -> dict[str, Any]:
    """Every checkpoint loads, every metrics row parses, no temp file is left."""
    checkpoints = sorted(run.rglob("*.pt"))
    unreadable = []
    for path in checkpoints:
        try:
            load_checkpoint(path)
        except Exception as error:  # noqa: BLE001 - any failure counts
            unreadable.append(f"{path}: {error}")
    bad_rows = []
    rows = 0
    for name in ("metrics.csv", "train_metrics.csv"):
        path = run / name
        text = path.read_text()
        if text and not text.endswith("\n"):
            bad_rows.append(f"{name}: ends in half a row")
        for line_no, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            rows += 1
            if None in row or any(v is None for v in row.values()):
                bad_rows.append(f"{name}:{line_no}: wrong field count")
                continue
            try:
                float(row["wall_time_s"]), int(row["global_steps"])
            except (KeyError, ValueError):
                bad_rows.append(f"{name}:{line_no}: does not parse")
    starts_file = run / "starts.json"
    starts = json.loads(starts_file.read_text()) if starts_file.exists() else {}
    return {
        "starts": starts,
        "checkpoints": len(checkpoints),
        "unreadable_checkpoints": unreadable,
        "metrics_rows": rows,
        "bad_rows": bad_rows,
        "temp_files": [str(p) for p in run.rglob("*.tmp")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--min-gap", type=float, default=30.0, help="seconds between faults, at least (default 30)")
    parser.add_argument("--max-gap", type=float, default=60.0, help="seconds between faults, at most (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault schedule")
    parser.add_argument("--run-root", type=Path, default=Path("runs/chaos"))
    parser.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md are written")
    args, args.train_flags = parser.parse_known_args()
    args.train_flags = [f for f in args.train_flags if f != "--"] + ["--max-restarts", "100"]
    rng = random.Random(args.seed)
    clean, chaotic = args.run_root / "clean", args.run_root / "chaos"

    proc = train(clean, args.minutes * 60, args.train_flags + ["--force"])
    proc.wait()
    clean_steps = last_step(clean)
    result = chaos_run(chaotic, args, rng) if not chaotic.exists() else {"error": f"{chaotic} exists; remove it first"}
    chaos_steps = last_step(chaotic)
    left = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _is_a3c_child(pid)]
    report = {
        "command": "python benchmarks/chaos.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "minutes": args.minutes,
        "clean_steps": clean_steps,
        "chaos_steps": chaos_steps,
        "steps_lost": clean_steps - chaos_steps,
        "steps_lost_share": round((clean_steps - chaos_steps) / max(clean_steps, 1), 3),
        "faults_injected": len(result.get("faults", [])),
        "survived": result.get("exit_codes", [None])[-1] == 0,
        "processes_left": len(left),
        **result,
        "checks": check_run_dir(chaotic),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def _is_a3c_child(pid: int) -> bool:
    """A multiprocessing child or forkserver of some trainer (not of this script)."""
    cmdline = _cmdline(pid)
    return ("spawn_main" in cmdline or "multiprocessing.forkserver" in cmdline) and pid != os.getpid()


def markdown(r: dict[str, Any]) -> str:
    checks = r["checks"]
    lines = [
        f"# Chaos run: {r['minutes']:g} minutes, {r['faults_injected']} faults",
        "",
        f"Command: `{r['command']}`; machine: {r['machine'].get('cpu_model')}, {r['machine'].get('cpus')} CPUs.",
        "",
        "| | value |",
        "| --- | ---: |",
        f"| faults injected (children killed or stopped, and the trainer killed once) | {r['faults_injected']} |",
        f"| the run finished (exit 0 after the resume) | {'yes' if r['survived'] else 'no'} |",
        f"| hangs, deaths and restarts in the trainer's log | {r.get('hangs_logged', '-')}, {r.get('deaths_logged', '-')}, "
        f"{r.get('restarts_logged', '-')} |",
        f"| global steps, fault-free run | {r['clean_steps']:,} |",
        f"| global steps, chaos run | {r['chaos_steps']:,} |",
        f"| steps lost | {r['steps_lost']:,} ({r['steps_lost_share']:.1%}) |",
        f"| checkpoints that load | {checks['checkpoints'] - len(checks['unreadable_checkpoints'])} of {checks['checkpoints']} |",
        f"| metrics rows that parse | {checks['metrics_rows'] - len(checks['bad_rows'])} of {checks['metrics_rows']} |",
        f"| temp files left | {len(checks['temp_files'])} |",
        f"| a3c processes left at the end | {r['processes_left']} |",
        f"| starts of each child over the run (`starts.json`; 2 = started once in each of the 2 segments) | "
        f"{', '.join(f'{name} {count}' for name, count in sorted(checks.get('starts', {}).items()))} |",
        "",
        "| t (s) | target | signal | what followed |",
        "| ---: | --- | --- | --- |",
    ]
    for f in r.get("faults", []):
        if f["target"] == "trainer":
            after = f"every child gone {f.get('children_gone_after_s', '?')} s later; `--resume` from step {f.get('step_before', 0):,}"
        elif f["signal"] == "SIGSTOP":
            after = "alive but silent: killed as hung after the heartbeat limit, restarted"
        else:
            after = "died: restarted"
        lines.append(f"| {f['t']} | {f['target']} | {f['signal']} | {after} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
