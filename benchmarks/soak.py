"""Soak benchmark: train for a long time and record memory, processes and open files over time.

    python benchmarks/soak.py --minutes 30 --warmup-minutes 5 --interval 15 \\
        --run-dir runs/soak --out docs/results/soak-NAME [-- extra a3c train flags]

This is a benchmark, not a unit test. It starts

    python -m a3c train --run-dir RUN --max-seconds MINUTES*60 --max-steps 1000000000 --quiet [extra flags]

(a plain ``a3c train`` already uses the fast preset) and every ``--interval`` seconds samples the
trainer's whole process tree (the trainer, the evaluator, the workers and spawn's resource
tracker) from ``/proc``. Linux only.

Outputs:

- ``OUT-memory.csv``: one row per sample, columns :data:`CSV_FIELDS`:
  ``elapsed_s`` (since the trainer was started), ``unix_time``, ``phase`` (``warmup``,
  ``measure`` or ``shutdown``), ``num_processes``, ``zombies``, ``threads``, ``total_rss_kb``
  (sum of ``VmRSS``), ``total_pss_kb`` and ``total_uss_kb`` (sums of ``Pss`` and
  ``Private_Clean + Private_Dirty`` from ``smaps_rollup``; empty if any process's file was
  unreadable), ``open_fds`` (entries of ``/proc/PID/fd``, summed) and ``global_steps`` (last row
  of the run's ``train_metrics.csv`` or ``metrics.csv``; empty before the first row).
- ``OUT.json``: the command, the machine, the settings, per-metric statistics, pass/fail, the
  trainer's exit code, a per-process breakdown and any processes left behind after the trainer
  exited.

Growth is measured over the *measure window*: samples with ``warmup_s <= elapsed_s <= minutes*60``
(samples after that, or after a forwarded signal, are the trainer shutting down and are marked
``shutdown``). With ``base`` the first sample in the window (the value at the end of warm-up):

    growth_pct      = (max(window) - base) / base * 100     # the pass/fail figure
    last_growth_pct = (last(window) - base) / base * 100

The run passes when ``growth_pct <= --limit-pct`` (default 10) for both the summed RSS and the open
file descriptors. PSS and USS get the same statistics and their own verdicts, reported but not part
of ``pass``: summed RSS counts pages that several processes share (the shared model, the
libraries) once per process, PSS splits them fairly, and USS counts only private pages, the most
direct sign of a leak.

Ctrl-C forwards SIGINT to the trainer only (it runs in its own session, so it never gets the
terminal's SIGINT twice while it saves its checkpoint), keeps sampling until it exits and then
writes the record; a second Ctrl-C kills the trainer's whole process group. SIGTERM is forwarded the
same way. Exit code: 0 if the run passed, 1 if it did not, the trainer failed or left processes
behind, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

PROC = Path("/proc")

CSV_FIELDS = (
    "elapsed_s",
    "unix_time",
    "phase",
    "num_processes",
    "zombies",
    "threads",
    "total_rss_kb",
    "total_pss_kb",
    "total_uss_kb",
    "open_fds",
    "global_steps",
)

#: Metrics that get warm-up/growth statistics in the JSON summary.
GROWTH_METRICS = ("total_rss_kb", "total_pss_kb", "total_uss_kb", "open_fds", "threads")
#: Metrics whose growth decides ``pass`` (what the issues ask for: resident memory and open files).
PASS_METRICS = ("total_rss_kb", "open_fds")

#: Flags the soak sets itself; letting extra flags override them would desynchronise the record.
OWNED_FLAGS = ("--run-dir", "--max-seconds")

#: How long to wait, after the trainer exits, for its children (the resource tracker above all)
#: to go before calling them left behind.
LEFTOVER_GRACE_S = 5.0


# --------------------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcId:
    """A pid plus its start time: pids are reused, the pair is not."""

    pid: int
    start_ticks: int


@dataclass
class ProcSample:
    ident: ProcId
    role: str
    state: str
    rss_kb: int
    threads: int
    pss_kb: int | None
    uss_kb: int | None
    open_fds: int | None


@dataclass
class TreeSample:
    elapsed_s: float
    unix_time: float
    phase: str
    processes: list[ProcSample]
    global_steps: int | None

    def totals(self) -> dict[str, Any]:
        def total(values: Iterable[int | None]) -> int | None:
            values = list(values)
            # A partial sum would look like a drop in memory; better no figure at all.
            return None if not values or any(v is None for v in values) else sum(v for v in values if v is not None)

        procs = self.processes
        return {
            "elapsed_s": round(self.elapsed_s, 1),
            "unix_time": round(self.unix_time, 1),
            "phase": self.phase,
            "num_processes": len(procs),
            "zombies": sum(p.state == "Z" for p in procs),
            "threads": sum(p.threads for p in procs),
            "total_rss_kb": sum(p.rss_kb for p in procs),
            "total_pss_kb": total(p.pss_kb for p in procs),
            "total_uss_kb": total(p.uss_kb for p in procs),
            "open_fds": total(p.open_fds for p in procs),
            "global_steps": self.global_steps,
        }


def _read_stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time in clock ticks) from /proc/PID/stat, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after its last ')'
    # are plain numbers and letters.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _all_stats() -> dict[int, tuple[int, str, int]]:
    stats = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    return stats


def process_tree(root: int) -> dict[int, tuple[str, int]]:
    """The root and all its descendants as {pid: (state, start ticks)}.

    Built from every process's ppid rather than /proc/PID/task/*/children, which needs
    CONFIG_PROC_CHILDREN and which the kernel documents as unreliable while the tree changes.
    """
    stats = _all_stats()
    if root not in stats:
        return {}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    tree: dict[int, tuple[str, int]] = {}
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tree[pid] = (stats[pid][1], stats[pid][2])
        pending.extend(children.get(pid, []))
    return tree


def _status_fields(pid: int) -> dict[str, str]:
    fields = {}
    with open(PROC / str(pid) / "status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _kb(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


def _smaps_rollup(pid: int) -> tuple[int, int] | None:
    """(PSS, USS) in kB, or None where smaps_rollup is missing (Linux < 4.14) or not ours to read."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except PermissionError:
        return None
    except FileNotFoundError:
        if (PROC / str(pid)).exists():
            return None  # old kernel: no rollup file
        raise  # the process went away: let the caller drop it
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[key] = _kb(rest)
    if "Pss" not in values:
        # A zombie (or kernel thread) has an empty rollup: no memory of its own.
        return (0, 0)
    return values["Pss"], values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)


def _open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except PermissionError:
        return None


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "trainer"
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    command = b" ".join(argv).decode(errors="replace")
    # spawn children all run the same command line, so the evaluator and the workers look alike.
    for marker, role in (("resource_tracker", "resource_tracker"), ("spawn_main", "spawned child"), ("forkserver", "forkserver")):
        if marker in command:
            return role
    return os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else "?"


class TreeSampler:
    """Samples one process tree; remembers every process it has seen, to find leftovers later."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: dict[ProcId, str] = {}

    def sample(self, elapsed_s: float, phase: str, global_steps: int | None) -> TreeSample:
        processes: list[ProcSample] = []
        for pid, (state, start_ticks) in process_tree(self.root).items():
            ident = ProcId(pid, start_ticks)
            try:
                if ident not in self.seen:
                    self.seen[ident] = _role(pid, self.root)
                status = _status_fields(pid)
                rollup = _smaps_rollup(pid)
                fds = _open_fds(pid)
            except OSError:
                continue  # it exited between listing and reading: it is simply not in this sample
            # If the pid was reused between listing and reading, the figures are a stranger's.
            again = _read_stat(pid)
            if again is None or again[2] != start_ticks:
                continue
            processes.append(
                ProcSample(
                    ident=ident,
                    role=self.seen[ident],
                    state=state,
                    rss_kb=_kb(status.get("VmRSS")),  # zombies have no VmRSS line
                    threads=int(status.get("Threads", "0") or 0),
                    pss_kb=None if rollup is None else rollup[0],
                    uss_kb=None if rollup is None else rollup[1],
                    open_fds=fds,
                )
            )
        return TreeSample(elapsed_s, time.time(), phase, processes, global_steps)

    def leftovers(self) -> list[dict[str, Any]]:
        """Processes of this tree that still exist (same pid and start time), e.g. orphans."""
        alive = []
        for ident, role in self.seen.items():
            stat = _read_stat(ident.pid)
            if stat is not None and stat[2] == ident.start_ticks and stat[1] != "Z":
                alive.append({"pid": ident.pid, "role": role, "state": stat[1], "ppid": stat[0]})
        return alive


# ------------------------------------------------------------------------------------ run files


def last_global_steps(run_dir: Path) -> int | None:
    """global_steps from the last complete row of train_metrics.csv, else metrics.csv."""
    for name in ("train_metrics.csv", "metrics.csv"):
        path = run_dir / name
        try:
            with path.open("rb") as handle:
                header = handle.readline().decode(errors="replace").strip().split(",")
                # Only the tail matters, and the file grows for the whole run.
                handle.seek(max(handle.tell(), path.stat().st_size - 8192))
                lines = handle.read().decode(errors="replace").split("\n")
        except OSError:
            continue
        if "global_steps" not in header:
            continue
        column = header.index("global_steps")
        # The last line may be half written (no newline yet); take the last complete one.
        for line in reversed(lines[:-1]):
            cells = line.strip().split(",")
            if len(cells) == len(header):
                try:
                    return int(float(cells[column]))
                except ValueError:
                    continue
    return None


# --------------------------------------------------------------------------------------- summary


def growth_stats(rows: Sequence[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """Statistics of one metric over the measure-window rows; None without any value."""
    window = [(row["elapsed_s"], row[key]) for row in rows if row[key] is not None]
    if not window:
        return None
    base_t, base = window[0]
    values = [v for _, v in window]
    peak, last = max(values), values[-1]

    def pct(value: float) -> float | None:
        return None if base == 0 else round((value - base) / base * 100, 3)

    return {
        "at_warmup_end": base,
        "at_warmup_end_elapsed_s": base_t,
        "first": base,
        "last": last,
        "min": min(values),
        "max": peak,
        "max_at_elapsed_s": next(t for t, v in window if v == peak),
        "growth_pct": pct(peak),
        "last_growth_pct": pct(last),
        "samples": len(window),
    }


def per_process(samples: Sequence[TreeSample], warmup_s: float, end_s: float) -> list[dict[str, Any]]:
    """RSS/PSS/fds of each process at its first and last measure-window sample: who grows."""
    first: dict[ProcId, ProcSample] = {}
    last: dict[ProcId, ProcSample] = {}
    peak: dict[ProcId, int] = {}
    for sample in samples:
        if not warmup_s <= sample.elapsed_s <= end_s or sample.phase == "shutdown":
            continue
        for proc in sample.processes:
            first.setdefault(proc.ident, proc)
            last[proc.ident] = proc
            peak[proc.ident] = max(peak.get(proc.ident, 0), proc.rss_kb)
    return [
        {
            "pid": ident.pid,
            "role": first[ident].role,
            "rss_kb_first": first[ident].rss_kb,
            "rss_kb_last": last[ident].rss_kb,
            "rss_kb_max": peak[ident],
            "pss_kb_first": first[ident].pss_kb,
            "pss_kb_last": last[ident].pss_kb,
            "uss_kb_first": first[ident].uss_kb,
            "uss_kb_last": last[ident].uss_kb,
            "open_fds_first": first[ident].open_fds,
            "open_fds_last": last[ident].open_fds,
            "threads_last": last[ident].threads,
        }
        for ident in first
    ]


def machine_info() -> dict[str, Any]:
    def version(package: str) -> str | None:
        # Read from the installed metadata: importing torch here would cost seconds and memory.
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu_model = None
    mem_total_kb = None
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.partition(":")[2].strip()
                break
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_kb = _kb(line.partition(":")[2])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "mem_total_kb": mem_total_kb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": version("torch"),
        "a3c": version("a3c"),
        # Other load on the machine slows training but should not change memory; recorded anyway.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------------------ run


@dataclass
class Signals:
    """Forwards SIGINT/SIGTERM to the trainer: the first as is, the next as SIGKILL to its group."""

    proc: subprocess.Popen[bytes] | None = None
    received: list[str] = field(default_factory=list)
    at_elapsed_s: float | None = None
    start: float = 0.0

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self.proc is None:
            raise KeyboardInterrupt  # no trainer yet: nothing to forward to
        if self.proc.poll() is not None:
            return
        if len(self.received) == 1:
            self.at_elapsed_s = time.monotonic() - self.start
            print(f"\nsoak: {name}: forwarded to the trainer; sampling until it exits (again to kill it)", file=sys.stderr, flush=True)
            self.proc.send_signal(signum)
        else:
            print(f"\nsoak: {name} again: killing the trainer's process group", file=sys.stderr, flush=True)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        index = list(argv).index("--")
        return list(argv[:index]), list(argv[index + 1 :])
    return list(argv), []


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    own, train_flags = split_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="training time (default 30)")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="excluded from the growth figure (default 5)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between samples (default 15)")
    parser.add_argument("--limit-pct", type=float, default=10.0, help="allowed growth after warm-up, percent (default 10)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/soak"), help="the trainer's run dir (default runs/soak)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix: writes OUT-memory.csv and OUT.json")
    args = parser.parse_args(own)
    if args.minutes <= 0 or args.interval <= 0 or not 0 <= args.warmup_minutes < args.minutes:
        parser.error("need --minutes > 0, --interval > 0 and 0 <= --warmup-minutes < --minutes")
    for flag in train_flags:
        if flag.split("=")[0] in OWNED_FLAGS:
            parser.error(f"{flag} is set by the soak itself; use the soak's own --run-dir/--minutes")
    return args, train_flags


def fmt_mb(kb: float | None) -> str:
    return "-" if kb is None else f"{kb / 1024:,.0f} MB"


def print_summary(summary: dict[str, Any]) -> None:
    stats = summary["metrics"]
    print(
        f"\nsoak: {summary['minutes']:g} min, warm-up {summary['warmup_minutes']:g} min, {summary['samples']} samples, "
        f"trainer exit code {summary['trainer_exit_code']}"
    )
    for key, label, fmt in (
        ("total_rss_kb", "RSS (sum)", fmt_mb),
        ("total_pss_kb", "PSS (sum)", fmt_mb),
        ("total_uss_kb", "USS (sum)", fmt_mb),
        ("open_fds", "open fds", str),
        ("threads", "threads", str),
    ):
        s = stats.get(key)
        if s is None:
            print(f"  {label:10} no measurement after warm-up")
            continue
        print(
            f"  {label:10} at warm-up end {fmt(s['at_warmup_end'])}, min {fmt(s['min'])}, max {fmt(s['max'])}, "
            f"last {fmt(s['last'])}; growth {s['growth_pct']}% (max), {s['last_growth_pct']}% (last)"
        )
    procs = summary["num_processes_after_warmup"]
    print(f"  processes  {procs['min']}-{procs['max']} after warm-up" if procs else "  processes  -")
    if summary["leftover_processes"]:
        print(f"  LEFT BEHIND after the trainer exited: {summary['leftover_processes']}")
    if summary["signals"]:
        print(f"  interrupted ({summary['signals'][0]} at {summary['signal_at_elapsed_s']} s): shorter than asked for")
    verdict = {True: "PASS", False: "FAIL", None: "NO VERDICT"}[summary["pass"]]
    print(f"  {verdict}: growth after warm-up <= {summary['limit_pct']:g}% for {', '.join(PASS_METRICS)}")


def main(argv: Sequence[str] | None = None) -> int:
    if not sys.platform.startswith("linux") or not (PROC / "self" / "status").exists():
        raise SystemExit("soak.py: needs Linux's /proc to read the memory of every process; this platform has none")
    args, train_flags = parse_args(sys.argv[1:] if argv is None else argv)
    duration_s = args.minutes * 60
    warmup_s = args.warmup_minutes * 60
    command = [
        sys.executable, "-m", "a3c", "train",
        "--run-dir", str(args.run_dir), "--max-seconds", f"{duration_s:g}", "--max-steps", str(10**9), "--quiet",
        *train_flags,
    ]  # fmt: skip
    csv_path = Path(f"{args.out}-memory.csv")
    json_path = Path(f"{args.out}.json")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info()

    print("soak: running", " ".join(command), flush=True)
    signals = Signals()
    # Before the Popen: a handler resets to the default in the child at exec, whereas an ignored
    # SIGINT (as in any `cmd &` from a script) would be inherited and make the trainer deaf to it.
    signals.install()
    # Own session: a terminal Ctrl-C reaches only the soak, which forwards exactly one SIGINT.
    proc = subprocess.Popen(command, start_new_session=True)
    start = time.monotonic()
    signals.proc, signals.start = proc, start
    sampler = TreeSampler(proc.pid)
    samples: list[TreeSample] = []
    rows: list[dict[str, Any]] = []
    handle: TextIO
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_FIELDS)
        writer.writeheader()
        next_at = start
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - start
                phase = "warmup" if elapsed < warmup_s else "measure"
                if elapsed > duration_s or signals.received:
                    phase = "shutdown"
                sample = sampler.sample(elapsed, phase, last_global_steps(args.run_dir))
                if sample.processes:  # empty: the trainer exited while we listed
                    samples.append(sample)
                    row = sample.totals()
                    rows.append(row)
                    # Written as we go, so a killed soak still leaves its record.
                    writer.writerow({k: "" if v is None else v for k, v in row.items()})
                    handle.flush()
                    print(
                        f"soak: {row['elapsed_s'] / 60:5.1f} min  {row['phase']:8} procs {row['num_processes']}  "
                        f"RSS {fmt_mb(row['total_rss_kb'])}  PSS {fmt_mb(row['total_pss_kb'])}  "
                        f"fds {row['open_fds']}  steps {row['global_steps']}",
                        flush=True,
                    )
                next_at += args.interval
                try:
                    proc.wait(timeout=max(0.0, next_at - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # Whatever ended the loop (an error in the soak itself included), never leave a trainer behind.
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    # The resource tracker exits once the trainer's pipe closes; give it a moment before
    # calling anything a leftover.
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    leftovers = sampler.leftovers()
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.5)
        leftovers = sampler.leftovers()

    measured = [r for r in rows if r["phase"] == "measure"]
    metrics = {key: growth_stats(measured, key) for key in GROWTH_METRICS}
    verdicts: dict[str, bool | None] = {
        key: None if metrics[key] is None or metrics[key]["growth_pct"] is None else metrics[key]["growth_pct"] <= args.limit_pct  # type: ignore[index]
        for key in GROWTH_METRICS
    }
    pass_values = [verdicts[key] for key in PASS_METRICS]
    passed = None if any(v is None for v in pass_values) else all(pass_values)
    summary: dict[str, Any] = {
        "command": " ".join(command),
        "machine": machine,
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "interval_s": args.interval,
        "limit_pct": args.limit_pct,
        "growth_definition": (
            "measure window = samples with warmup_s <= elapsed_s <= minutes*60; base = first sample in it; "
            "growth_pct = (max - base) / base * 100; last_growth_pct = (last - base) / base * 100"
        ),
        "pass": passed,
        "pass_metrics": list(PASS_METRICS),
        "verdicts": verdicts,
        "metrics": metrics,
        "num_processes_after_warmup": (
            {"min": min(r["num_processes"] for r in measured), "max": max(r["num_processes"] for r in measured)} if measured else None
        ),
        "samples": len(rows),
        "samples_after_warmup": len(measured),
        "last_global_steps": next((r["global_steps"] for r in reversed(rows) if r["global_steps"] is not None), None),
        "trainer_exit_code": proc.returncode,
        "signals": signals.received,
        "signal_at_elapsed_s": None if signals.at_elapsed_s is None else round(signals.at_elapsed_s, 1),
        "leftover_processes": leftovers,
        "processes": per_process(samples, warmup_s, duration_s),
        "memory_csv": str(csv_path),
        "csv_fields": list(CSV_FIELDS),
        "run_dir": str(args.run_dir),
    }
    json_path.write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary)
    print(f"soak: wrote {csv_path} and {json_path}")
    if signals.received:
        return 130
    return 0 if passed and proc.returncode == 0 and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
