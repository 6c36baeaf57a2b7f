"""The ONNX Runtime fast path: export cache, fp32/int8 agreement with torch, failures."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import embedkit
from embedkit.errors import BackendUnavailable, EmbedkitError, InvalidInput, ModelNotFound

import onnxruntime  # noqa: F401
import onnx  # noqa: F401

from embedkit.text import onnx as ek_onnx  # noqa: E402
from embedkit.text.onnx import OnnxEncoder, cache_dir, model_hash, physical_cores  # noqa: E402
from embedkit.text.transformer import TransformerEncoder  # noqa: E402

TEXTS = ["The river bank was muddy.", "", "a loan from the bank", "Mixed 東京 Москва café",
         "two dogs run across the green field " * 12, "hello\x00\x07 world"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_enc(tiny_st_model):
    return TransformerEncoder(tiny_st_model)


def test_fp32_matches_torch(tiny_st_model, torch_enc, shared_cache):
    enc = OnnxEncoder(tiny_st_model, cache=shared_cache)
    assert enc.variant == "fp32" and enc.dim == 32 and enc.window == torch_enc.window
    np.testing.assert_allclose(enc.encode(TEXTS), torch_enc.encode(TEXTS), atol=1e-5)
    a = enc.encode_tokens(TEXTS)
    b = torch_enc.encode_tokens(TEXTS)
    for x, y in zip(a, b):
        assert x.tokens == y.tokens and x.offsets == y.offsets
        np.testing.assert_allclose(x.vectors, y.vectors, atol=1e-4)


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_is_close_to_torch(tiny_st_model, torch_enc, shared_cache, per_channel):
    enc = OnnxEncoder(tiny_st_model, quantize="int8", per_channel=per_channel, cache=shared_cache)
    assert enc.variant == ("int8" if per_channel else "int8-per-tensor")
    cos = (enc.encode(TEXTS) * torch_enc.encode(TEXTS)).sum(1)
    assert cos.min() > 0.99, cos
    assert (shared_cache / enc.key / enc.variant / "model.onnx").is_file()
    info = json.loads((shared_cache / enc.key / enc.variant / "export.json").read_text())
    assert len(info["fp32_nodes"]) == 2  # the two feed-forward output projections stay fp32


def test_int8_quantising_everything_is_its_own_variant(tiny_st_model, torch_enc, shared_cache):
    enc = OnnxEncoder(tiny_st_model, quantize="int8", quantize_ffn_output=True, cache=shared_cache)
    assert enc.variant == "int8-all"
    info = json.loads((enc.model_path.parent / "export.json").read_text())
    assert info["fp32_nodes"] == []
    assert (enc.encode(TEXTS) * torch_enc.encode(TEXTS)).sum(1).min() > 0.98


def test_load_with_backend_onnx_and_quantize(tiny_st_model, onnx_cache):
    enc = embedkit.load(tiny_st_model, backend="onnx", quantize="int8")
    assert isinstance(enc, OnnxEncoder) and enc.quantize == "int8"
    assert enc.model_path.is_relative_to(onnx_cache / "onnx")
    assert enc.encode(["a"]).shape == (1, 32)


def test_cache_is_reused_and_keyed_by_the_model_files(tiny_st_model, tiny_model_factory, onnx_cache,
                                                      monkeypatch):
    first = OnnxEncoder(tiny_st_model)
    calls = []
    monkeypatch.setattr(ek_onnx, "export_onnx", lambda *a: calls.append(a))
    second = OnnxEncoder(tiny_st_model)
    assert calls == [] and second.model_path == first.model_path
    other = tiny_model_factory("other-seed", seed=1)
    assert model_hash(other) != model_hash(tiny_st_model)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "onnx"
    monkeypatch.delenv("EMBEDKIT_CACHE")
    assert cache_dir().parts[-3:] == (".cache", "embedkit", "onnx")


def test_threads_default_to_physical_cores(tiny_st_model, shared_cache):
    enc = OnnxEncoder(tiny_st_model, cache=shared_cache)
    assert enc.threads == physical_cores() >= 1
    assert enc.session.get_session_options().intra_op_num_threads == enc.threads


def test_failed_export_is_a_clear_error_and_leaves_no_cache(tiny_st_model, onnx_cache, monkeypatch):
    def broken_export(transformer_dir, out):
        out.write_bytes(b"half an onnx file")  # killed half-way
        raise RuntimeError("unsupported operator aten::frobnicate")

    monkeypatch.setattr(ek_onnx, "export_onnx", broken_export)
    with pytest.raises(ModelNotFound, match="could not export .* to ONNX .*frobnicate.*backend='torch'"):
        OnnxEncoder(tiny_st_model)
    leftovers = [p for p in (onnx_cache / "onnx").rglob("*") if p.is_file()]
    assert leftovers == []
    monkeypatch.undo()
    monkeypatch.setenv("EMBEDKIT_CACHE", str(onnx_cache))
    enc = OnnxEncoder(tiny_st_model)  # the next run exports cleanly
    assert enc.encode(["ok"]).shape == (1, 32)


def test_a_model_that_cannot_be_exported(tiny_st_model, tmp_path, onnx_cache):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_st_model, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelNotFound, match="cannot load a transformer model"):
        OnnxEncoder(broken)


def test_a_corrupt_cached_file_is_rebuilt(tiny_st_model, onnx_cache, caplog):
    enc = OnnxEncoder(tiny_st_model, quantize="int8")
    expected = enc.encode(["a dog"])
    enc.model_path.write_bytes(b"truncated")
    again = OnnxEncoder(tiny_st_model, quantize="int8")
    assert "rebuilding" in caplog.text
    np.testing.assert_allclose(again.encode(["a dog"]), expected, atol=1e-6)


def test_missing_onnxruntime_says_how_to_install(tiny_st_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'embedkit\[onnx\]'"):
        embedkit.load(tiny_st_model, backend="onnx")


def test_bad_options(tiny_st_model, shared_cache):
    with pytest.raises(InvalidInput, match="Valid values are: None"):
        OnnxEncoder(tiny_st_model, quantize="int4", cache=shared_cache)
    with pytest.raises(InvalidInput, match="Valid levels are"):
        OnnxEncoder(tiny_st_model, optimization="max", cache=shared_cache)
    with pytest.raises(InvalidInput, match="threads"):
        OnnxEncoder(tiny_st_model, threads=0, cache=shared_cache)
    with pytest.raises(InvalidInput, match="Unknown backend"):
        embedkit.load(tiny_st_model, backend="tensorrt")


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelNotFound, match="not a model folder"):
        OnnxEncoder(tmp_path)


def test_onnx_load_from_cache_does_not_import_torch(tiny_st_model, shared_cache, tmp_path):
    OnnxEncoder(tiny_st_model, cache=shared_cache)  # make sure the export exists
    import subprocess

    code = ("import sys, embedkit; from embedkit.text.onnx import OnnxEncoder; "
            f"e = OnnxEncoder({str(tiny_st_model)!r}, cache={str(shared_cache)!r}); e.encode(['a']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the real default model ------------------------------------------------------------------------


@pytest.mark.slow
def test_default_model_int8_agrees_with_fp32(tmp_path_factory):
    torch_enc = embedkit.load()
    cache = tmp_path_factory.mktemp("default-onnx")
    fp32 = embedkit.load(backend="onnx", cache=cache)
    int8 = embedkit.load(backend="onnx", quantize="int8", cache=cache)
    texts = ["A man is playing a guitar.", "A woman slices an onion.", "영화가 정말 재미있어요",
             "The stock market fell sharply today.", ""]
    ref = torch_enc.encode(texts)
    assert (fp32.encode(texts) * ref).sum(1).min() > 0.9999
    assert (int8.encode(texts) * ref).sum(1).mean() > 0.98
    with pytest.raises(EmbedkitError):
        int8.encode("not a list")
