"""The course notebook (notebooks/pong_a3c.ipynb): committed clean, and runs top to bottom.

The slow test executes it with nbclient, with small settings injected into its one
``parameters`` cell (papermill's convention): a 1,000-step training run in a temporary
folder, 60 steps of the shipped agent. Cells are found by their tags, not their position.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "pong_a3c.ipynb"
REFERENCE_RUN = ROOT / "docs" / "results" / "pong-k8-t5-lr2e-4-metrics.csv"
CELL_TIMEOUT_S = 180


def read_notebook():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    return nb


def tagged(nb, tag: str):
    cells = [cell for cell in nb.cells if tag in cell.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def mime_types(cell) -> set[str]:
    return {mime for output in cell.outputs for mime in output.get("data", {})}


def stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")


def test_notebook_is_valid_clean_and_has_one_parameters_cell() -> None:
    nb = read_notebook()
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert tagged(nb, "parameters") is code_cells[0], "the parameters cell must be the first code cell"
    for cell in code_cells:
        assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.get('id')} was committed with outputs"
    # The parameters cell holds plain assignments only, so that papermill can override them.
    tree = ast.parse(tagged(nb, "parameters").source)
    assert tree.body and all(isinstance(node, ast.Assign) for node in tree.body)
    names = {target.id for node in tree.body for target in node.targets}
    assert {"MAX_STEPS", "NUM_PROCESSES", "PRESET", "RUN_DIR", "EPISODES_TO_SHOW", "MAX_FRAMES"} <= names
    # Every parameter is used somewhere else in the notebook.
    rest = "\n".join(cell.source for cell in code_cells[1:])
    assert not [name for name in names if name not in rest]


def _kernelspec_for_this_interpreter(folder: Path) -> Path:
    """A ``python3`` kernelspec that runs this very interpreter (the venv's), whatever else is installed."""
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (a3c tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return folder


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipykernel")
    # JUPYTER_PATH comes first in jupyter_client's search path, so "python3" is this interpreter.
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec_for_this_interpreter(tmp_path / "jupyter")))
    work = tmp_path / "work"
    work.mkdir()
    run_dir = work / "run"
    gif = work / "agent.gif"

    nb = read_notebook()
    parameters = tagged(nb, "parameters")
    # Like papermill: the notebook's own defaults run first, then the injected values.
    parameters.source += (
        "\n\n# injected by tests/test_notebook.py\n"
        "MAX_STEPS = 1000\n"
        "NUM_PROCESSES = 2\n"
        "CHECKPOINT_INTERVAL_S = 60.0\n"
        f"RUN_DIR = {str(run_dir)!r}\n"
        f"REFERENCE_RUN = {str(REFERENCE_RUN)!r}\n"
        "MAX_FRAMES = 60\n"
        "EPISODES_TO_SHOW = 1\n"
        f"GIF_PATH = {str(gif)!r}\n"
    )
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)", id="test-interpreter"))

    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    try:
        client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    finally:
        nbformat.write(nb, tmp_path / "executed.ipynb")  # to look at when something fails

    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    assert Path(stdout(nb.cells[-1]).strip()).resolve() == Path(sys.executable).resolve()

    # The training run: the trainer's files, and as many steps as asked for.
    for name in ("config.yaml", "metrics.csv", "train_metrics.csv", "checkpoints/latest.pt"):
        assert (run_dir / name).is_file(), f"training wrote no {name}"
    assert list(run_dir.glob("events.out.tfevents.*")), "no TensorBoard log"
    from a3c.runtime.checkpoint import load_checkpoint

    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["global_step"] >= 1000
    assert "steps/s, 2 workers + 1 evaluator" in stdout(tagged(nb, "train")), stdout(tagged(nb, "train"))

    # Every figure is drawn inline.
    for tag in ("env-frames", "plot", "plot-training", "agent-frames"):
        assert "image/png" in mime_types(tagged(nb, tag)), f"cell {tag!r} drew no image"
    assert "observation: shape (1, 42, 42), float32" in stdout(tagged(nb, "env-frames"))

    # The shipped agent played exactly MAX_FRAMES steps (a whole game is about 2,500), and the GIF holds them.
    agent_out = stdout(tagged(nb, "agent-frames"))
    assert "after 60 steps (stopped: max_length)" in agent_out, agent_out
    assert "image/gif" in mime_types(tagged(nb, "agent-gif"))
    assert gif.is_file() and gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert "60 frames" in stdout(tagged(nb, "agent-gif"))
