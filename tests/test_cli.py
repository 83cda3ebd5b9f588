import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from grokmon import io
from grokmon.capture import load_model
from grokmon.cli import METRICS, main, split_model
from grokmon.monitor import probe_metrics
from grokmon.virtual_experts import set_virtual_experts
from tiny_models import TEXTS, tiny_gpt2, tiny_llama, tiny_olmoe, tiny_tokenizer

GROKMON = str(Path(sys.executable).with_name("grokmon"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    tok = tiny_tokenizer()
    dense = tiny_llama(tok, num_hidden_layers=3)
    set_virtual_experts(dense.config, n_experts=8)  # saved in its config.json
    for name, model in (
        ("a", tiny_olmoe(tok, seed=0, num_hidden_layers=3)),
        ("b", tiny_olmoe(tok, seed=1, num_hidden_layers=3)),
        ("dense", dense),
        ("unknown", tiny_gpt2(tok)),
    ):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    io.write_jsonl(root / "data.jsonl", [{"id": i, "body": t} for i, t in enumerate(TEXTS)])
    io.write_text(root / "empty.jsonl", "")
    return root


def _expected(path: Path) -> dict:
    model, tokenizer = load_model(path, device="cpu")
    return probe_metrics(model, tokenizer, TEXTS)


def _printed(text: str) -> dict:
    return dict(line.split("\t") for line in text.splitlines())


def test_pathways_prints_and_saves_the_library_values(files, capsys):
    out = files / "out_one"
    assert (
        main(
            [
                "pathways",
                "--model",
                str(files / "a"),
                "--data",
                str(files / "data.jsonl"),
                "--text-field",
                "body",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    expected = _expected(files / "a")
    printed = _printed(capsys.readouterr().out)
    assert printed["model"] == str(files / "a") and printed["n_texts"] == "5"
    assert {k: float(printed[k]) for k in METRICS} == pytest.approx(expected, rel=1e-5)
    saved = io.read_json(out / "pathways.json")
    assert set(saved) == {"model", "n_texts", *METRICS}
    assert {k: saved[k] for k in METRICS} == expected  # full precision, same computation
    assert expected["distance"] > 0 and 0 < expected["consistency"] < 1


def test_pathways_on_a_dense_checkpoint_uses_its_virtual_experts(files, capsys):
    argv = ["pathways", "--model", str(files / "dense"), "--data", str(files / "data.jsonl"), "--text-field", "body"]
    assert main(argv) == 0
    printed = _printed(capsys.readouterr().out)
    expected = _expected(files / "dense")
    assert {k: float(printed[k]) for k in METRICS} == pytest.approx(expected, rel=1e-5)
    assert expected["distance"] > 0


def test_compare_prints_a_table_and_saves_it_with_a_plot(files, capsys):
    out, models = files / "out_many", [str(files / "a"), str(files / "b")]
    argv = [
        "compare",
        "--model",
        models[0],
        "--model",
        models[1],
        "--data",
        str(files / "data.jsonl"),
        "--text-field",
        "body",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    printed = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), sep="\t")
    saved = io.read_tsv(out / "compare.tsv")
    assert printed["model"].tolist() == saved["model"].tolist() == models
    for i, path in enumerate(models):
        expected = _expected(Path(path))
        assert printed.loc[i, list(METRICS)].to_dict() == pytest.approx(expected, rel=1e-5)
        assert saved.loc[i, list(METRICS)].to_dict() == pytest.approx(expected, rel=1e-5)
    assert printed.loc[0, "distance"] != printed.loc[1, "distance"]  # two different checkpoints
    png = (out / "compare.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_bad_input_exits_2_with_a_clear_message(files, capsys):
    data, a = str(files / "data.jsonl"), str(files / "a")
    cases = [
        (["--model", a, "--data", str(files / "missing.jsonl")], "--data: no such file"),
        (["--model", a, "--data", str(files / "empty.jsonl")], "has no rows"),
        (["--model", a, "--data", data], "--text-field: row 0"),  # rows have "body", not "text"
        (["--model", str(files / "unknown"), "--data", data, "--text-field", "body"], "'gpt2' is not a supported"),
        (["--model", str(files / "nowhere"), "--data", data, "--text-field", "body"], "no such directory"),
        (
            ["--model", "no-org/no-model", "--data", data, "--text-field", "body"],
            "not a local model directory",
        ),  # offline
    ]
    for args, message in cases:
        assert main(["pathways", *args]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse: usage errors exit 2 as well
        main(["pathways", "--model", a, "--data", data, "--cut", "1.5"])
    assert usage.value.code == 2


def test_console_script_unsupported_model_exits_2_without_traceback(files):
    proc = subprocess.run(
        [
            GROKMON,
            "pathways",
            "--model",
            str(files / "unknown"),
            "--data",
            str(files / "data.jsonl"),
            "--text-field",
            "body",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "not a supported architecture" in proc.stderr


def test_split_model():
    assert split_model("allenai/OLMoE-1B-7B-0924@step5000-tokens20B") == (
        "allenai/OLMoE-1B-7B-0924",
        "step5000-tokens20B",
    )
    assert split_model("allenai/OLMoE-1B-7B-0924") == ("allenai/OLMoE-1B-7B-0924", None)
    with pytest.raises(ValueError, match="--model"):
        split_model("name@")
