import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "library-example.py"


def test_library_example_runs_as_written(capsys):
    assert len(EXAMPLE.read_text().splitlines()) <= 12
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    first, second = capsys.readouterr().out.splitlines()
    pathway, distance = first.split()
    assert set(pathway) <= set("0123456789,-") and float(distance) > 0
    counts = [int(c) for c in second.split("[")[1].rstrip("]").split()]
    assert sum(counts) == 100  # t* histogram covers every sample
