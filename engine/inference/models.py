"""The model registry (models/registry.toml), `ladder models list|pull|path`, and backend loading.

A model is named three ways: a registry name ("qwen2.5-coder-0.5b", "smollm2-135m", "tiny"), a
local .gguf file, or a Hugging Face model folder. GGUF models run on llama.cpp for quick inference;
for training (and `--backend hf`) the GGUF is dequantised once by transformers and cached as
safetensors, so later loads take seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.paths import cache_dir
from engine.runs.files import read_toml

REGISTRY = Path(__file__).resolve().parents[2] / "models" / "registry.toml"
_CHUNK = 1 << 20


@dataclass
class Part:
    """One piece of a model file shipped inside a package on the package index."""

    package: str
    version: str
    module: str  # import name, used only to locate the package folder (never imported)
    path: str  # the file inside that folder


@dataclass
class ModelEntry:
    """One registry entry."""

    name: str
    kind: str  # gguf | tiny
    description: str = ""
    file: str = ""
    size: int = 0
    sha256: str = ""
    provenance: str = ""
    licence: str = ""
    notes: str = ""
    parts: list[Part] = field(default_factory=list)


@dataclass
class Resolved:
    """What a --model value points at: a GGUF file or a Hugging Face folder."""

    name: str  # registry name, or the path as given
    format: str  # gguf | hf
    path: Path
    entry: ModelEntry | None = None


def load_registry(path: Path = REGISTRY) -> tuple[str, dict[str, ModelEntry]]:
    """Parse the registry file; returns (default model name, entries by name)."""
    data = read_toml(path, "model registry")
    entries: dict[str, ModelEntry] = {}
    for name, raw in data.get("models", {}).items():
        raw = dict(raw)
        if raw.get("kind") not in ("gguf", "tiny"):
            raise LadderError(f"registry model {name!r}: kind must be 'gguf' or 'tiny'")
        parts = [Part(**p) for p in raw.pop("parts", [])]
        try:
            entries[name] = ModelEntry(name=name, parts=parts, **raw)
        except TypeError as e:
            raise LadderError(f"registry model {name!r}: {e}") from e
        if entries[name].kind == "gguf" and not (parts and entries[name].sha256 and entries[name].file):
            raise LadderError(f"registry model {name!r} needs parts, file and sha256")
    default = data.get("default", "")
    if default not in entries:
        raise LadderError(f"registry default {default!r} is not one of its models")
    return default, entries


def default_model() -> str:
    """The model that answers (`ladder solve`, `ladder eval`, the app's solve screen) when none is
    named. Training defaults to [Config].model, the faster 0.5B, instead."""
    return load_registry()[0]


def adapter_model(adapter: str | Path | None) -> str | None:
    """The model a LoRA adapter was trained on, so that `--adapter` alone loads the right base: the
    `model` of the run's config.json (the adapter folder, a checkpoint or the run directory itself),
    else the adapter config's base model when the registry knows it (an exported adapter)."""
    if adapter is None:
        return None
    path = Path(adapter).resolve()
    for folder in [path, *path.parents][:4]:
        config = folder / "config.json"
        if config.is_file():
            model = json.loads(config.read_text()).get("model")
            if isinstance(model, str) and model:
                return model
    peft = path / "adapter_config.json"
    if peft.is_file():
        base = json.loads(peft.read_text()).get("base_model_name_or_path")
        if base in load_registry()[1]:
            return base
    return None


def model_file(entry: ModelEntry) -> Path:
    """Where a pulled GGUF model lives in the user cache."""
    return cache_dir() / "models" / entry.file


def is_pulled(entry: ModelEntry) -> bool:
    if entry.kind == "tiny":
        return True
    path = model_file(entry)
    return path.exists() and path.stat().st_size == entry.size


def resolve(name_or_path: str | None, pull_missing: bool = True) -> Resolved:
    """Turn a --model value into a local GGUF file or HF folder, pulling a registry model if needed."""
    default, entries = load_registry()
    name = name_or_path or default
    if name in entries:
        entry = entries[name]
        if entry.kind == "tiny":
            from engine.inference.tiny import tiny_model_dir

            return Resolved(name, "hf", tiny_model_dir(), entry)
        if not is_pulled(entry):
            if not pull_missing:
                raise LadderError(f"model {name} is not pulled yet: run `ladder models pull {name}`")
            pull(entry)
        return Resolved(name, "gguf", model_file(entry), entry)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Resolved(str(path), "gguf", path.resolve())
    if path.is_dir() and (path / "config.json").exists():
        return Resolved(str(path), "hf", path.resolve())
    if path.exists():
        raise LadderError(f"{name} is neither a .gguf file nor a Hugging Face model folder (config.json)")
    raise LadderError(
        f"unknown model {name!r}: not a file or folder, and not in the registry ({', '.join(entries)})"
    )


def _locate(part: Part) -> Path | None:
    """The part's file inside its installed package, found without importing the package."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(part.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / part.path
    return path if path.is_file() else None


def _pip_install(parts: list[Part]) -> None:
    """Install the parts' packages into the running interpreter's environment (pinned, no deps)."""
    specs = [f"{p.package}=={p.version}" for p in parts]
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", *specs]
    print(f"installing {' '.join(specs)} …", file=sys.stderr)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise LadderError(f"could not run pip: {e}") from e
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        raise LadderError(f"pip could not install {', '.join(specs)}: {lines[-1] if lines else 'unknown error'}")


def pull(entry: ModelEntry) -> Path:
    """Install the model's packages if needed, assemble the file, check its sha256, cache it."""
    if entry.kind == "tiny":
        from engine.inference.tiny import tiny_model_dir

        return tiny_model_dir()
    target = model_file(entry)
    if is_pulled(entry):
        return target
    missing = [p for p in entry.parts if _locate(p) is None]
    if missing:
        _pip_install(missing)
    sources = []
    for part in entry.parts:
        path = _locate(part)
        if path is None:
            raise LadderError(
                f"package {part.package} {part.version} is installed but has no {part.path}; "
                f"try `{sys.executable} -m pip install --force-reinstall --no-deps {part.package}=={part.version}`"
            )
        sources.append(path)
    assemble(sources, target, entry.size, entry.sha256)
    return target


def assemble(sources: list[Path], target: Path, size: int, sha256: str) -> None:
    """Concatenate `sources` into `target` atomically, refusing a wrong size or sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        free = shutil.disk_usage(target.parent).free
        if free < size:
            raise LadderError(f"not enough disk space in {target.parent}: {size / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free")
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        written = tmp.stat().st_size
        if written != size:
            raise LadderError(f"assembled {target.name} has {written:,} bytes, expected {size:,}: the packages are damaged or the wrong version")
        if digest.hexdigest() != sha256:
            raise LadderError(f"sha256 mismatch for {target.name}: got {digest.hexdigest()}, expected {sha256}; refusing to use it")
        os.replace(tmp, target)
    except OSError as e:
        raise LadderError(f"could not write {target}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)


def hf_model_dir(model: str | None) -> Path:
    """A Hugging Face folder for `model`: the tiny/HF folder itself, or the GGUF dequantised by
    transformers once and cached as safetensors (fp32)."""
    resolved = resolve(model)
    if resolved.format == "hf":
        return resolved.path
    gguf = resolved.path
    stat = gguf.stat()
    key = resolved.entry.sha256[:12] if resolved.entry else hashlib.sha256(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    out = cache_dir() / "hf" / f"{gguf.stem}-{key}"
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} to safetensors (once) …", file=sys.stderr)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are already dequantised; drop the GGUF marker so they save as plain safetensors.
        hf.hf_quantizer = None
        if hasattr(hf.config, "quantization_config"):
            del hf.config.quantization_config
        hf.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, out)
    except OSError as e:
        raise LadderError(f"could not convert {gguf} to a Hugging Face folder: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_backend(
    model: str | None, backend: str | None = None, device: str = "auto", adapter: str | None = None
) -> Any:
    """A ready Backend for `model`: llama.cpp for GGUF models, transformers for HF folders/tiny."""
    resolved = resolve(model)
    backend = backend or ("llamacpp" if resolved.format == "gguf" else "hf")
    if backend == "llamacpp":
        if resolved.format != "gguf":
            raise LadderError(f"{resolved.name} is a Hugging Face model; llama.cpp needs a .gguf (use --backend hf)")
        from engine.inference.llamacpp import LlamaCppBackend

        return LlamaCppBackend(resolved.path, model_name=resolved.name, adapter=adapter)
    if backend == "hf":
        from engine.inference.hf import HFBackend

        return HFBackend(hf_model_dir(resolved.name), model_name=resolved.name, device=device, adapter=adapter)
    raise LadderError(f"unknown backend {backend!r} (use llamacpp or hf)")
