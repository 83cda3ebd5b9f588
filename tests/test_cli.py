import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from tiny_models import TEXTS, tiny_gpt2, tiny_llama, tiny_olmoe, tiny_tokenizer

from grokmon.files import atomic
from grokmon.monitor.pathway_monitor import probe_metrics
from grokmon.routing.capture import load_model
from grokmon.routing.virtual_experts import set_virtual_experts
from grokmon.workflow import cli, io
from grokmon.workflow.cli import METRICS, main, split_model

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
    atomic.write_text(root / "empty.jsonl", "")
    io.write_jsonl(root / "one.jsonl", [{"text": TEXTS[0]}])
    atomic.write_text(root / "malformed.jsonl", '{"text": "a b"}\n\nnot json\n')
    (root / "latin1.jsonl").write_bytes('{"text": "caf\u00e9"}\n'.encode("latin-1"))
    atomic.write_text(root / "list_row.jsonl", '{"text": "a b"}\n["a b"]\n')
    io.write_jsonl(root / "blank_text.jsonl", [{"text": "a b"}, {"text": "  "}])
    io.write_jsonl(root / "one_token.jsonl", [{"text": TEXTS[0]}, {"text": "a"}])
    (root / "nomodel").mkdir()
    (root / "unknown_type").mkdir()
    tok.save_pretrained(root / "unknown_type")
    atomic.write_text(root / "unknown_type" / "config.json", '{"model_type": "nosuchmodel"}')
    tiny_olmoe(tok, num_hidden_layers=3).config.save_pretrained(root / "no_tokenizer")  # a config alone
    for name, model in (
        ("one_layer", tiny_olmoe(tok, num_hidden_layers=1)),
        ("four_layers", tiny_olmoe(tok, num_hidden_layers=4)),
        ("six_experts", tiny_olmoe(tok, num_hidden_layers=3, num_experts=6)),
    ):
        model.config.save_pretrained(root / name)  # the config and tokenizer are all the checks read
        tok.save_pretrained(root / name)
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


def _bad_inputs(files: Path) -> list[tuple[list[str], str]]:
    """(argv, expected message) per bad input; every one must fail before a model loads."""
    data, a = str(files / "data.jsonl"), str(files / "a")
    ok = ["--data", data, "--text-field", "body"]
    one = ["pathways", "--model", a]
    cases = [
        # data files: named with the line
        ([*one, "--data", str(files / "missing.jsonl")], f"--data {files / 'missing.jsonl'}: no such file"),
        ([*one, "--data", str(files)], "is a directory, not a file"),
        ([*one, "--data", "/dev/null"], "--data /dev/null: is not a regular file"),
        ([*one, "--data", str(files / "empty.jsonl")], "needs at least 2 texts (distances are over pairs), has 0"),
        ([*one, "--data", str(files / "one.jsonl")], "needs at least 2 texts (distances are over pairs), has 1"),
        (
            [*one, "--data", str(files / "malformed.jsonl")],
            f"--data {files / 'malformed.jsonl'} line 3: not valid JSON",
        ),
        ([*one, "--data", str(files / "latin1.jsonl")], "not UTF-8 text"),
        ([*one, "--data", data], "--text-field 'text': " + f"{data} line 1 has no such field (it has: 'id', 'body')"),
        (
            [*one, "--data", str(files / "list_row.jsonl")],
            "line 2 has no such field (it has: a JSON list, not an object)",
        ),
        ([*one, "--data", str(files / "blank_text.jsonl")], "line 2: field 'text' is not a non-empty string: '  '"),
        ([*one, "--data", str(files / "one_token.jsonl")], "line 2: text has fewer than 2 tokens under"),
        # models: named, checked from the config and tokenizer only
        (["pathways", "--model", str(files / "unknown"), *ok], "'gpt2' is not a supported"),
        (["pathways", "--model", str(files / "nowhere"), *ok], f"--model {files / 'nowhere'}: no such directory"),
        (["pathways", "--model", "./nowhere", *ok], "--model ./nowhere: no such directory"),
        (
            ["pathways", "--model", "no-org/no-model", *ok],
            "nor a model on the hub (or in its offline cache)",
        ),  # offline
        (
            ["pathways", "--model", str(files / "nomodel"), *ok],
            "has no config.json (not a Hugging Face model directory)",
        ),
        (["pathways", "--model", data, *ok], "is a file; expected a model directory or a hub id"),
        (["pathways", "--model", "", *ok], "--model: expected DIR_OR_HUB_ID[@REVISION], got ''"),
        (
            ["pathways", "--model", str(files / "unknown_type"), *ok],
            f"--model {files / 'unknown_type'}: cannot load it: The checkpoint you are trying to load has model type "
            "`nosuchmodel`",
        ),
        (
            ["pathways", "--model", str(files / "no_tokenizer"), *ok],
            f"--model {files / 'no_tokenizer'}: its tokenizer gives every --data text fewer than 2 tokens",
        ),
        (["pathways", "--model", f"{a}@main", *ok], "a revision (@main) needs a hub id, but"),
        (["pathways", "--model", str(files / "one_layer"), *ok], "needs >= 2 MoE layers, this model has 1"),
        # compare: >= 2 checkpoints of one architecture
        (["compare", "--model", a, *ok, "--out", str(files / "o")], "compare needs at least 2 checkpoints"),
        (
            ["compare", "--model", a, "--model", str(files / "four_layers"), *ok, "--out", str(files / "o")],
            "3 MoE layers x 8 experts; " + f"{files / 'four_layers'}: olmoe, 4 MoE layers x 8 experts",
        ),
        (
            ["compare", "--model", a, "--model", str(files / "six_experts"), *ok, "--out", str(files / "o")],
            "3 MoE layers x 6 experts",
        ),
        # flags
        ([*one, *ok, "--device", "foo"], "--device: 'foo' is not a torch device; allowed: auto, cpu, cuda"),
        ([*one, *ok, "--device", "meta"], "--device: 'meta' is not a device grokmon runs models on"),
        ([*one, *ok, "--device", "cuda:99"], "--device: 'cuda:99'"),
        ([*one, *ok, "--out", data], "exists and is not a directory"),
        ([*one, *ok, "--max-length", "1"], "argument --max-length: expected an int >= 2"),
        ([*one, *ok, "--seed", "-1"], "argument --seed: expected an int >= 0"),
        ([*one, *ok, "--cut", "1.5"], "argument --cut: expected a number in (0, 1]"),
        ([*one, *ok, "--max-pairs", "0"], "argument --max-pairs: expected an int >= 1"),
        (["pathways", "--model", a], "the following arguments are required: --data"),
    ]
    if not torch.cuda.is_available():
        cases.append(([*one, *ok, "--device", "cuda"], "--device: 'cuda' needs CUDA, but this torch"))
    return cases


def test_every_bad_input_exits_2_with_one_line_before_any_model_loads(files, capsys, monkeypatch):
    def no_model(*args):
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr(cli, "_measure", no_model)
    for argv, message in _bad_inputs(files):
        try:
            status = main(argv)
        except SystemExit as usage:  # argparse usage errors
            status = usage.code
        err = capsys.readouterr().err
        assert status == 2, argv
        assert message in err, (argv, err)
        assert err.count("\n") == 1 and err.startswith(f"grokmon {argv[0]}: error: "), (argv, err)
    assert not (files / "o").exists()


def test_console_script_unusable_device_exits_2_with_one_line_and_no_traceback(files):
    argv = ["pathways", "--model", str(files / "a"), "--data", str(files / "data.jsonl"), "--text-field", "body"]
    proc = subprocess.run([GROKMON, *argv, "--device", "cuda:99"], capture_output=True, text=True)  # no 100th GPU
    assert proc.returncode == 2
    assert proc.stderr.startswith("grokmon pathways: error: --device: 'cuda:99'") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_split_model():
    assert split_model("allenai/OLMoE-1B-7B-0924@step5000-tokens20B") == (
        "allenai/OLMoE-1B-7B-0924",
        "step5000-tokens20B",
    )
    assert split_model("allenai/OLMoE-1B-7B-0924") == ("allenai/OLMoE-1B-7B-0924", None)
    with pytest.raises(ValueError, match="--model"):
        split_model("name@")
