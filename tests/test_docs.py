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
