"""`shinka export`: ONNX against torch in onnxruntime, the MLflow model, the registry, the model card, path safety."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
from mlflow.tracking import MlflowClient
from user_campaigns import campaign_dir, tiny_campaigns

from shinka.cli import main
from shinka.export import load_model, safe_name
from shinka.export_candidates import export_candidates, register_best
from shinka.export_mlflow import alias_for_profile
from shinka.model.arch import arch_from_values
from shinka.model.transformer import Transformer
from shinka.onnx_export import LogitsOnly, export_onnx

ATOL = 1e-4
SHAPES = [(1, 1), (2, 16), (3, 5)]  # (batch, sequence), all within the tiny space's context of 64


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory):
    return tiny_campaigns(tmp_path_factory)


@pytest.fixture(scope="module")
def exported(campaigns, tmp_path_factory):
    """The NSGA-II campaign's best candidate for raspberry-pi-5, in every format."""
    out = tmp_path_factory.mktemp("exports")
    items = export_candidates(
        campaign_dir(campaigns.nsga2), out, best_for="raspberry-pi-5", formats="config,safetensors,onnx,mlflow"
    )
    return campaigns, out, items[0]


def torch_logits(model, input_ids: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return LogitsOnly(model)(torch.from_numpy(input_ids)).numpy()


@pytest.mark.parametrize("shape", SHAPES)
def test_onnx_matches_torch(exported, shape):
    _, _, item = exported
    model, _ = load_model(item.folder)
    model.freeze()
    session = onnxruntime.InferenceSession(str(item.folder / "model.onnx"), providers=["CPUExecutionProvider"])
    input_ids = np.random.default_rng(1).integers(0, model.arch.vocab_size, size=shape).astype(np.int64)
    (onnx_logits,) = session.run(["logits"], {"input_ids": input_ids})
    np.testing.assert_allclose(onnx_logits, torch_logits(model, input_ids), atol=ATOL, rtol=0)


def test_onnx_variant_architecture(tmp_path):
    # Rotary positions, SwiGLU, RMSNorm, grouped KV heads, a sliding window and int4 low-rank layers: code
    # paths the tiny search space does not reach. Random weights are enough to compare two runtimes.
    torch.manual_seed(0)
    arch = arch_from_values({
        "context_length": 32, "n_layer": 2, "d_model": 64, "n_head": 4, "n_kv_head": 2, "mlp": "swiglu",
        "norm": "rmsnorm", "positions": "rope", "tie_embeddings": False, "weight_format": "int4",
        "group_size": 32, "rank_ratio": 0.5, "kv_window": 16, "kv_sinks": 2,
    })
    model = Transformer(arch).eval().freeze()
    path = export_onnx(model, tmp_path / "variant.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_ids = np.random.default_rng(2).integers(0, arch.vocab_size, size=(2, 32)).astype(np.int64)
    (onnx_logits,) = session.run(["logits"], {"input_ids": input_ids})
    np.testing.assert_allclose(onnx_logits, torch_logits(model, input_ids), atol=ATOL, rtol=0)


def test_export_files_written(exported):
    _, _, item = exported
    names = {p.name for p in item.folder.iterdir()}
    assert names == {"model.yaml", "model.safetensors", "model.onnx", "mlflow_model", "MODEL_CARD.md"}


def test_export_no_temporary_left(exported):
    _, out, _ = exported
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_mlflow_model_predicts_logits(exported):
    import mlflow.pyfunc

    _, _, item = exported
    model, _ = load_model(item.folder)
    model.freeze()
    loaded = mlflow.pyfunc.load_model(str(item.folder / "mlflow_model"))
    input_ids = np.random.default_rng(3).integers(0, 256, size=(3, 7)).astype(np.int64)
    np.testing.assert_allclose(loaded.predict(input_ids), torch_logits(model, input_ids), atol=ATOL, rtol=0)


def test_mlflow_model_in_candidate_run(exported):
    campaigns, _, item = exported
    client = MlflowClient(campaigns.tracking_uri)
    model = client.get_logged_model(item.model_uri.removeprefix("models:/"))
    run = client.get_run(model.source_run_id)
    assert run.data.tags["candidate_id"] == item.candidate_id


def test_model_card_objectives(exported):
    campaigns, _, item = exported
    card = (item.folder / "MODEL_CARD.md").read_text()
    record = next(r for r in campaigns.nsga2.records if r["candidate_id"] == item.candidate_id)
    assert f"# Model card: candidate {item.candidate_id}" in card
    for objective in campaigns.nsga2.objectives:
        assert f"| {objective} |" in card, objective
    assert f"{record['metrics']['val_bpb']:.4g}" in card


def test_model_card_every_profile(exported):
    _, _, item = exported
    card = (item.folder / "MODEL_CARD.md").read_text()
    for profile in ("local-cpu", "raspberry-pi-5"):
        assert f"| {profile} |" in card, profile
    assert "measured" in card  # local-cpu latency is timed on this machine


def test_register_best_aliases(campaigns):
    registrations = register_best(campaign_dir(campaigns.nsga2), "tiny-lm")
    client = MlflowClient(campaigns.tracking_uri, registry_uri=campaigns.tracking_uri)
    assert sorted(r.profile for r in registrations) == ["local-cpu", "raspberry-pi-5"]
    for entry in registrations:
        version = client.get_model_version_by_alias("tiny-lm", alias_for_profile(entry.profile))
        assert version.tags["candidate_id"] == entry.candidate_id


def test_register_cli(campaigns, capsys, tmp_path):
    code = main(["export", str(campaign_dir(campaigns.random)), "--top", "1", "--out", str(tmp_path / "out"),
                 "--register", "tiny-random-lm"])
    out = capsys.readouterr().out
    assert code == 0
    assert "registered tiny-random-lm@best-raspberry-pi-5" in out


def test_malicious_candidate_rejected(campaigns, capsys, tmp_path):
    out = tmp_path / "inside" / "out"
    code = main(["export", str(campaign_dir(campaigns.nsga2)), "--candidate", "../../x", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "'../../x'" in err
    assert list(tmp_path.rglob("*")) == []


def test_symlinked_target_rejected(campaigns, tmp_path):
    result = campaigns.nsga2
    candidate = result.front["candidate_id"].iloc[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / candidate).symlink_to(outside, target_is_directory=True)
    with pytest.raises(Exception, match="escapes the output folder"):
        export_candidates(campaign_dir(result), out, candidates=[candidate])
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "text, expected",
    [("../../x", "_.._x"), ("a/b", "a_b"), ("..", "candidate"), (".hidden", "hidden"), ("01-abc", "01-abc"),
     ("mem@pi 5", "mem_pi_5")],
)
def test_safe_name_cases(text, expected):
    assert safe_name(text) == expected
