"""Query and document roles: models with prompts (E5's "query: " / "passage: ") get them applied."""

import json
import shutil

import numpy as np
import pytest

import embedkit
from embedkit import VectorStore
from embedkit.encoder import encode_as
from embedkit.errors import InvalidInput


@pytest.fixture(scope="module")
def prompted(tiny_model_factory, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prompted") / "e5-like"
    shutil.copytree(tiny_model_factory("base-for-prompts", max_seq_length=24), folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None}))
    return folder


def test_prompts_match_sentence_transformers(prompted):
    from sentence_transformers import SentenceTransformer

    enc = embedkit.load(prompted)
    st = SentenceTransformer(str(prompted), device="cpu")
    texts = ["The river bank was muddy.", "한국어 문장도 조금", "a dog"]
    assert enc.prompt_for("query") == "query: " and enc.prompt_for("document") == "passage: "
    ours_q, ours_d = enc.encode_queries(texts), enc.encode_documents(texts)
    ref_q = st.encode(texts, prompt_name="query", normalize_embeddings=True)
    ref_d = st.encode(texts, prompt_name="passage", normalize_embeddings=True)
    np.testing.assert_allclose(ours_q, ref_q, atol=1e-5)
    np.testing.assert_allclose(ours_d, ref_d, atol=1e-5)
    assert not np.allclose(ours_q, enc.encode(texts), atol=1e-3)  # the prompt changes the vector
    np.testing.assert_allclose(ours_q, enc.encode(["query: " + t for t in texts]), atol=1e-5)


def test_long_text_gets_the_prompt_in_every_window(prompted):
    enc = embedkit.load(prompted)
    long = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)
    seen = []
    original = enc._forward
    enc._forward = lambda batch: (seen.extend(batch), original(batch))[1]
    enc.encode_queries([long])
    prompt_ids = enc.tokenizer.encode("query:", add_special_tokens=False).ids
    assert len(seen) > 1 and all(row[1:1 + len(prompt_ids)] == prompt_ids for row in seen)
    assert all(len(row) <= enc.max_length for row in seen)


def test_symmetric_models_and_other_encoders_are_unchanged(tiny_st_model):
    enc = embedkit.load(tiny_st_model)
    assert enc.prompt_for("query") is None
    np.testing.assert_array_equal(enc.encode_queries(["x y"]), enc.encode(["x y"]))
    mfcc = embedkit.load("mfcc")
    assert mfcc.prompt_for("document") is None
    with pytest.raises(InvalidInput, match="Valid roles"):
        encode_as(enc, ["x"], "passage")


def test_store_embeds_documents_as_documents_and_queries_as_queries(prompted, tmp_path):
    enc = embedkit.load(prompted)
    docs = ["A red car in the garage.", "Apples and pears at the market."]
    with VectorStore(tmp_path / "p.db", encoder=enc) as store:
        store.add(docs, ids=["car", "fruit"])
        stored = np.stack([r.vector for r in store.get(["car", "fruit"])])
        np.testing.assert_allclose(stored, enc.encode_documents(docs), atol=1e-6)
        assert json.loads(store.meta["model_prompts"]) == {"query": "query: ", "document": "passage: "}
        q = enc.encode_queries(["red car"])[0]
        best = store.search("red car", k=2)
        exact = sorted(zip(stored @ q, ["car", "fruit"]), reverse=True)
        assert [h.id for h in best] == [i for _, i in exact]
        assert best[0].score == pytest.approx(float(exact[0][0]), abs=1e-5)


def test_cli_embed_as_query(prompted, tmp_path):
    from click.testing import CliRunner

    from embedkit.cli import main

    res = CliRunner().invoke(main, ["embed", "--model", str(prompted), "--as", "query"], input="a dog\n")
    assert res.exit_code == 0, res.output
    vec = np.array(json.loads(res.stdout.splitlines()[0])["vector"], dtype=np.float32)
    np.testing.assert_allclose(vec, embedkit.load(prompted).encode_queries(["a dog"])[0], atol=1e-5)
    res = CliRunner().invoke(main, ["embed", "--as", "both"], input="a dog\n")
    assert res.exit_code == 2 and res.output.startswith("error:")
