"""The README's install and test commands are exactly what CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Install and test", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)
    assert len(commands) == 2, "the README should show one install and one test command"
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_lines == commands
    assert "torch==2.13.0" in commands[0] and commands[0].index("torch==2.13.0") < commands[0].index('-e ".[test,ray,dev]"')
    assert "ruff check" in commands[1] and "mypy" in commands[1]  # lint and types fail CI


def test_the_readme_flag_table_gives_each_preset_its_real_defaults():
    """The README's table of flags states the `fast` and `seed` defaults: a preset changed without
    its row (as gae_lambda nearly was) would mislead every reader."""
    from a3c.algorithm.config import resolve_config

    readme = (ROOT / "README.md").read_text()
    table = readme.split("| flag | default (`fast`) | seed | meaning |", 1)[1].split("\n\n", 1)[0]
    presets = {"fast": resolve_config("fast"), "seed": resolve_config("seed")}
    checked = 0
    for row in table.strip().splitlines()[1:]:
        flag, fast_cell, seed_cell = (cell.strip() for cell in row.strip("|").split("|")[:3])
        named = re.match(r"`--([a-z-]+)`", flag)
        assert named, f"a row of the flag table does not start with a flag: {row!r}"
        field = named.group(1).replace("-", "_")
        for preset, cell in (("fast", fast_cell), ("seed", seed_cell)):
            number = re.match(r"^[\d.,]+$", cell.split(" ")[0])
            if number and hasattr(presets[preset], field):
                assert float(number.group(0).replace(",", "")) == getattr(presets[preset], field), (flag, preset)
                checked += 1
    assert checked >= 16  # lr, gamma, gae-lambda, entropy, value, clip, seed, steps, length, max-steps
