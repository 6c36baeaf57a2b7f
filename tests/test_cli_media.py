"""Images and audio through `embedkit index` / `embedkit search` (--image, --audio, text-to-image)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import VectorStore
from embedkit.apps.indexing import index_paths
from embedkit.cli import main

import torch  # noqa: F401
import PIL  # noqa: F401
import librosa  # noqa: F401


def _helpers(sub: str):
    spec = importlib.util.spec_from_file_location(f"_media_{sub}", Path(__file__).parent / sub / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


vision = _helpers("vision")
audio = _helpers("audio")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    pics = root / "pics"
    pics.mkdir()
    vision.make_images(pics)
    (pics / "empty.png").write_bytes(b"")
    (pics / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg" * 4)
    (pics / "truncated.png").write_bytes((pics / "img0.png").read_bytes()[:100])
    (pics / "notes.txt").write_text("a text file among the images")
    from PIL import Image

    Image.new("L", (9000, 8000)).save(pics / "huge.png")  # 72 MP: above the pixel cap
    return root, pics


@pytest.fixture(scope="module")
def clip_model(tmp_path_factory):
    return vision.build_tiny_clip(tmp_path_factory.mktemp("clip"))


def test_index_images_with_clip_skips_bad_files(image_dir, clip_model):
    root, pics = image_dir
    store = root / "images.db"
    result = run("index", pics, "--store", store, "--model", clip_model, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["added"]) == 4 and report["total_items"] == 4
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"empty.png", "corrupt.jpg", "truncated.png", "huge.png"}
    assert "empty" in reasons["empty.png"] and "more than the limit" in reasons["huge.png"]
    # notes.txt is not walked into an image store; given explicitly it is skipped with a reason.
    res = run("index", pics / "notes.txt", "--store", store, "--json")
    assert "embeds image" in res.output
    # Image-to-image: the query image itself comes first.
    res = run("search", "--image", pics / "img0.png", "--store", store, "--json", "-k", "2")
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert hits[0]["metadata"]["source"].endswith("img0.png") and hits[0]["score"] > 0.999
    assert hits[0]["metadata"]["type"] == "image" and hits[0]["text"] == "img0.png"
    # Text-to-image on a CLIP store (vector and hybrid modes).
    for mode in ("vector", "hybrid"):
        res = run("search", "a photo of a red square", "--store", store, "--mode", mode, "--json")
        assert res.exit_code == 0, res.output
        assert len(json.loads(res.stdout)) == 4
    # An audio query against an image store is a clear error.
    res = run("search", "--audio", pics / "img0.png", "--store", store)
    assert res.exit_code == 2 and "image vectors" in res.output
    res = run("search", "--store", store)
    assert res.exit_code == 2 and "exactly one query" in res.output


def test_cnn_store_refuses_text_queries(image_dir, tmp_path):
    root, pics = image_dir
    model = vision.build_tiny_resnet(tmp_path / "resnet")
    store = tmp_path / "cnn.db"
    assert run("index", pics / "img0.png", pics / "img1.jpg", "--store", store, "--model", model).exit_code == 0
    res = run("search", "red", "--store", store, "--mode", "vector")
    assert res.exit_code == 2 and "cannot embed text" in res.output
    res = run("search", "--image", pics / "img1.jpg", "--store", store, "--json")
    assert json.loads(res.stdout)[0]["metadata"]["source"].endswith("img1.jpg")


def test_index_audio_and_search_by_audio(tmp_path):
    import soundfile as sf
    clips = tmp_path / "clips"
    clips.mkdir()
    for word in ("one", "two", "three"):
        audio.speak(word, clips / f"{word}.wav")
    y, sr = sf.read(clips / "two.wav", dtype="float32")
    sf.write(clips / "two.flac", y, sr)
    sf.write(clips / "silence.ogg", np.zeros(8000, np.float32), 8000, format="OGG", subtype="VORBIS")
    sf.write(clips / "tiny.wav", (0.2 * np.ones(30)).astype(np.float32), 44100)  # 0.7 ms: padded
    (clips / "empty.wav").write_bytes(b"")
    (clips / "bad.flac").write_bytes(b"fLaC" + b"\x00" * 40)
    store = tmp_path / "audio.db"
    res = run("index", clips, "--store", store, "--model", "mfcc-segments", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["total_items"] == 6
    assert {Path(s["path"]).name for s in report["skipped"]} == {"empty.wav", "bad.flac"}
    assert not any("BytesIO" in s["reason"] for s in report["skipped"])
    with VectorStore(store, create=False) as vs:
        metas = {Path(r.metadata["source"]).name: r.metadata for r in vs.get([str(clips / "silence.ogg")])}
        assert metas["silence.ogg"]["silent"] is True and vs.model_spec == "mfcc-segments"
        tiny = vs.get([str(clips / "tiny.wav")])[0].metadata
        assert tiny["seconds"] == round(30 / 44100, 3)  # its own length, not the padded 0.1 s
    res = run("search", "--audio", clips / "two.wav", "--store", store, "--json", "-k", "2")
    hits = json.loads(res.stdout)
    assert hits[0]["metadata"]["source"].endswith("two.wav")
    assert hits[1]["metadata"]["source"].endswith("two.flac")  # same clip, other container
    # Incremental: nothing changes on a second run.
    report2 = json.loads(run("index", clips, "--store", store, "--json").stdout)
    assert len(report2["unchanged"]) == 6 and not report2["added"]
    res = run("search", "--audio", tmp_path / "missing.wav", "--store", store)
    assert res.exit_code == 2 and "no such audio file" in res.output


def test_text_store_skips_media_files_with_a_reason(tmp_path):
    from embedkit.text.hashing import HashingEncoder

    (tmp_path / "a.txt").write_text("hello world")
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "pic.png")
    with VectorStore(tmp_path / "t.db", encoder=HashingEncoder()) as vs:
        report = index_paths(vs, [tmp_path / "a.txt", tmp_path / "pic.png"])
    assert report.added == [str((tmp_path / "a.txt").resolve())]
    assert "image model" in report.skipped[0][1]


def test_zero_shot_and_train_audio_simclr_commands(image_dir, clip_model, tmp_path):
    root, pics = image_dir
    res = run("zero-shot", pics / "img0.png", pics / "img1.jpg", "--model", clip_model,
              "-l", "red", "-l", "blue", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 2 and rows[0]["label"] in ("red", "blue")
    assert abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-3
    res = run("zero-shot", pics / "img0.png", "--model", "mfcc", "-l", "a", "-l", "b")
    assert res.exit_code == 2 and "needs a CLIP model" in res.output
    clips = tmp_path / "clips"
    clips.mkdir()
    for word in ("one", "two", "three", "four"):
        audio.speak(word, clips / f"{word}.wav")
    (clips / "broken.wav").write_bytes(b"RIFF0000WAVE")
    out = tmp_path / "model"
    res = run("train", "audio-simclr", clips, "--out", out, "--epochs", "2")
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and "broken.wav" in res.output
    assert re.search(r"in \d+\.\d s ", res.output)  # the training time, never "in 0 s"
    enc = __import__("embedkit").load(out)
    assert enc.encode([clips / "one.wav"]).shape == (1, enc.dim)
    res = run("train", "audio-simclr", clips, "--out", tmp_path / "bad", "--clusters", "3")
    assert res.exit_code == 2 and "--clusters only applies with --label-from clusters" in res.output
    res = run("train", "audio-simclr", clips, "--out", tmp_path / "bad", "--label-from", "clusters")
    assert res.exit_code == 2 and "--clusters 40 needs between 2 and the number of readable clips (4)" in res.output
    res = run("train", "audio-simclr", clips, "--out", tmp_path / "side", "--epochs", "2",
              "--label-from", "clusters", "--clusters", "2", "--with-features", "--floor-db", "50")
    assert res.exit_code == 0, res.output
    assert "k-means clusters; vectors also hold mfcc-warped-segments features" in res.output
    side = __import__("embedkit").load(tmp_path / "side")
    assert side.dim > enc.dim and side.encode([clips / "two.wav"]).shape == (1, side.dim)


def test_a_file_the_model_fails_on_is_skipped_not_fatal(tmp_path):
    from PIL import Image

    from embedkit.encoder import BaseEncoder
    from embedkit.errors import InvalidInput

    class Picky(BaseEncoder):
        modality, dim, name = "image", 3, "picky"

        def _check_item(self, index, item):
            return item

        def _encode_batch(self, items):
            if any(img.size[0] == 13 for img in items):
                raise InvalidInput("width 13 is not supported")
            return np.array([np.asarray(img, np.float32).mean(axis=(0, 1)) for img in items])

    for i, width in enumerate((10, 13, 12)):
        Image.new("RGB", (width, 8), (50 * i + 10, 20, 30)).save(tmp_path / f"p{i}.png")
    with VectorStore(tmp_path / "s.db", encoder=Picky()) as vs:
        report = index_paths(vs, [tmp_path])
        assert len(report.added) == 2 and vs.count() == 2
        assert report.skipped[0][0].endswith("p1.png") and "width 13" in report.skipped[0][1]
