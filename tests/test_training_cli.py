"""`run.py train` and `run.py eval` end to end on a tiny configuration with the real generator and recognisers."""
from __future__ import annotations

import json
from pathlib import Path

from commands import main_eval, main_train

from project import ATTRIBUTES
from training.resume import saved_step

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--set", "train.dataset.samples=48", "--set", "train.dataset.chunk=24", "--set", "train.dataset.batch=24",
    "--set", "train.regressor.epochs=2", "--set", "train.regressor.hidden=32",
    "--set", "train.mapper.steps=3", "--set", "train.mapper.batch=16", "--set", "train.mapper.identity_batch=4",
    "--set", "train.mapper.hidden=64", "--set", "train.encoder.steps=2", "--set", "train.encoder.batch=4",
]


def _paths(tmp_path: Path) -> list[str]:
    return ["--set", f"train.out_dir='{tmp_path / 'models'}'", "--set", f"train.cache_dir='{tmp_path / 'cache'}'",
            "--set", f"train.generator='{ROOT / 'models/default/generator.safetensors'}'"]


def test_train_runs_every_stage_then_skips_finished_ones(tmp_path, capsys):
    assert main_train([*TINY, *_paths(tmp_path), "--seed", "1"]) == 0
    for name in ("regressor", "directions", "mapper", "encoder"):
        assert (tmp_path / "models" / f"{name}.safetensors").is_file()
    assert json.loads((tmp_path / "cache/dataset/complete.json").read_text())["with_face"] > 30
    capsys.readouterr()
    assert main_train([*TINY, *_paths(tmp_path), "--stages", "mapper,encoder"]) == 0
    assert capsys.readouterr().out.count("done already") == 2
    # Raising the steps of a finished stage trains on from its saved state.
    state = tmp_path / "cache/mapper_state.safetensors"
    assert saved_step(state) == 3
    assert main_train([*TINY, *_paths(tmp_path), "--stages", "mapper", "--set", "train.mapper.steps=5"]) == 0
    assert "done already" not in capsys.readouterr().out and saved_step(state) == 5


def test_train_names_an_unknown_stage_and_a_bad_setting(tmp_path, capsys):
    assert main_train(["--stages", "mapper,colour"]) == 2
    assert "unknown stage 'colour'" in capsys.readouterr().err
    assert main_train(["--set", "train.mapper.lr=fast"]) == 2
    assert "train.mapper.lr" in capsys.readouterr().err


def test_train_still_takes_the_old_short_set_key_with_a_deprecation_line(capsys):
    assert main_train(["--set", "mapper.lr=fast"]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning == "warning: --set mapper.lr=fast is deprecated; write --set train.mapper.lr=fast"
    assert error.startswith("error: ") and "train.mapper.lr" in error


def test_eval_writes_the_comparison_in_the_documented_schema(tmp_path):
    out = tmp_path / "eval"
    code = main_eval(["--out", str(out), "--json", str(tmp_path / "r.json"), "--faces", "3",
                      "--models", str(ROOT / "models/default"), *_paths(tmp_path)[-2:],
                      "--set", "train.eval.grid_faces=2", "--set", "train.eval.match_iterations=2",
                      "--set", "train.eval.judge_faces=2"])
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["attributes"]) == list(ATTRIBUTES)
    for methods in result["attributes"].values():
        for method in ("l2l", "linear"):
            assert {"target", "identity", "others"} <= set(methods[method])
            assert -1 <= methods[method]["identity"] <= 1
            # dlib's descriptor distance, edited vs original render: the same person stays under 0.6
            assert 0 <= methods[method]["identity_judge"] < 0.6
    assert result["identity_at_zero"] >= 0 and result["cycle_error"] >= 0
    assert (out / "eval.csv").read_text().count("\n") == 1 + 2 * len(ATTRIBUTES)
    assert (out / "eval.md").read_text().startswith("| attribute |")
    assert {p.name for p in out.glob("grid_*.png")} == {"grid_all.png", *(f"grid_{a}.png" for a in ATTRIBUTES)}


def test_eval_names_a_missing_mapper(tmp_path, capsys):
    assert main_eval(["--models", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "no such checkpoint" in err
