"""The Recommender: planted taste groups it must recover (ALS, BPR, content, hybrid), cold items and
new users, tuned weights, save/load, the item store, the CLI, ranking metrics and bad input."""

import json

import numpy as np
import pytest

pytest.importorskip("implicit")

from embedkit.apps.recommend import (  # noqa: E402
    Recommender, field_features, item_text, read_interactions, read_items)
from embedkit.errors import InvalidInput, NotFitted  # noqa: E402
from embedkit.evaluate.ranking import ranking_metrics, stratified_split  # noqa: E402
from embedkit.text.hashing import HashingEncoder  # noqa: E402

GENRES = {
    "space": ["rocket", "alien", "galaxy", "robot", "planet", "starship"],
    "romance": ["love", "wedding", "kiss", "heart", "paris", "letters"],
    "western": ["cowboy", "horse", "sheriff", "desert", "saloon", "outlaw"],
}
N_ITEMS, N_COLD, N_USERS = 12, 2, 20


def _world(seed=0, informative_text=True):
    """Three taste groups: each user rates 7 items of their group (4-5 stars) and one other item
    (1-2 stars); item popularity is flat by design. Two items per group nobody rated (cold)."""
    rng = np.random.default_rng(seed)
    items, groups = {}, {}
    all_words = [w for ws in GENRES.values() for w in ws]
    for g, words in GENRES.items():
        for j in range(N_ITEMS + N_COLD):
            picked = rng.choice(words if informative_text else all_words, size=3, replace=False)
            items[f"{g}-{j}"] = {"title": f"{' '.join(picked).title()} {j}", "genres": [g]
                                 if informative_text else []}
            groups[f"{g}-{j}"] = g
    rows, user_group = [], {}
    for g in GENRES:
        warm = [f"{g}-{j}" for j in range(N_ITEMS)]
        others = [f"{h}-{j}" for h in GENRES if h != g for j in range(N_ITEMS)]
        for n in range(N_USERS):
            user = f"u-{g}-{n}"
            user_group[user] = g
            for item in rng.choice(warm, size=7, replace=False):
                rows.append((user, str(item), float(rng.integers(4, 6))))
            rows.append((user, str(rng.choice(others)), float(rng.integers(1, 3))))
    return rows, items, groups, user_group


@pytest.fixture(scope="module")
def world():
    return _world()


@pytest.fixture(scope="module")
def hybrid(world):
    rows, items, _, _ = world
    return Recommender(encoder=HashingEncoder(dim=128), factors=8, regularization=1.0,
                       num_threads=1, seed=0).fit(rows, items=items)


def _share_in_group(rec, groups, user_group, k=3, **options):
    hits = total = 0
    for user, g in user_group.items():
        for r in rec.recommend(user, k=k, **options):
            hits += groups[r.item] == g
            total += 1
    return hits / total


# ---------------------------------------------------------------------------- recovering taste
def test_hybrid_recovers_the_planted_groups_and_leaves_out_seen_items(hybrid, world):
    rows, _, groups, user_group = world
    assert _share_in_group(hybrid, groups, user_group) >= 0.9
    seen = {(u, i) for u, i, _ in rows}
    for user in list(user_group)[::7]:
        recs = hybrid.recommend(user, k=5)
        assert len(recs) == 5 and not any((user, r.item) in seen for r in recs)
        assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
        with_seen = hybrid.recommend(user, k=50, exclude_seen=False)
        assert any((user, r.item) in seen for r in with_seen)


@pytest.mark.parametrize("cf", ["als", "bpr"])
def test_collaborative_filtering_alone_recovers_the_groups(world, cf):
    rows, _, groups, user_group = world
    options = dict(factors=8, num_threads=1, encoder=None, blend={"cf": 1.0})
    if cf == "als":
        options["regularization"] = 1.0
    else:
        options.update(learning_rate=0.05, iterations=200)
    rec = Recommender(cf=cf, **options).fit(rows)
    assert _share_in_group(rec, groups, user_group, method="cf") >= 0.8
    # item factors are an embedding space: an item's nearest items are from its own group
    for item in ("space-0", "romance-3", "western-5"):
        near = rec.similar_items(item, k=4)
        assert item not in {r.item for r in near}
        assert sum(groups[r.item] == groups[item] for r in near) >= 3


def test_content_only_and_popularity_methods(hybrid, world):
    _, _, groups, user_group = world
    assert _share_in_group(hybrid, groups, user_group, method="content") >= 0.9
    pop = hybrid.recommend("u-space-0", k=5, method="popularity")
    counts = dict(zip(hybrid.item_ids_, hybrid.item_counts_))
    assert [counts[r.item] for r in pop] == sorted((counts[r.item] for r in pop), reverse=True)


# ---------------------------------------------------------------------------- cold start
def test_cold_items_are_recommended_to_the_right_users(hybrid, world):
    _, _, groups, user_group = world
    cold = [i for i in hybrid.item_ids_ if int(i.split("-")[1]) >= N_ITEMS]
    assert sorted(np.array(hybrid.item_ids_)[hybrid.cold_items_]) == sorted(cold)
    hits = total = 0
    for user, g in user_group.items():
        for r in hybrid.recommend(user, k=2, candidates=cold):
            hits += groups[r.item] == g
            total += 1
    assert hits / total >= 0.9
    # pure CF cannot score an item nobody rated: it never recommends one
    assert not {r.item for r in hybrid.recommend("u-space-0", k=40, method="cf")} & set(cold)
    # a cold item's mapped factors sit among its group in the factor space
    near = hybrid.similar_items("western-12", k=5, space="factors")
    assert sum(groups[r.item] == "western" for r in near) >= 4


def test_field_features_are_one_hot_values_that_items_share():
    x, names = field_features([
        {"title": "A", "genres": ["Drama", "War"], "year": 1995, "studio": "Ghibli"},
        {"title": "B", "genres": ["Drama"], "year": "1998", "studio": "Ghibli"},
        {"title": "C", "genres": ["Comedy"], "year": 2004, "text": "free text is the encoder's"},
    ])
    # values only one item has (War, Comedy, the 2000s, titles, texts) cannot generalise
    assert names == ["decade=1990", "genres=Drama", "studio=Ghibli"]
    assert np.allclose(x[0], 1 / np.sqrt(3)) and np.allclose(x[1], 1 / np.sqrt(3))
    assert not x[2].any()
    assert field_features([])[0].shape == (0, 0)


class _NoiseEncoder:
    """A vector per text that says nothing about it (seeded by the text's hash)."""

    dim = 64

    def encode(self, texts, **_):
        import hashlib

        return np.stack([np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
                         .standard_normal(self.dim) for t in texts]).astype(np.float32)


def test_field_features_place_cold_items_when_the_text_says_nothing(world):
    rows, items, groups, user_group = world
    cold = [i for i in items if int(i.split("-")[1]) >= N_ITEMS]

    def cold_share(field_features):
        rec = Recommender(encoder=_NoiseEncoder(), factors=8, regularization=1.0, num_threads=1,
                          seed=0, field_features=field_features).fit(rows, items=items)
        assert (rec.cold_features_.shape[1] > rec.item_vectors_.shape[1]) == field_features
        hits = [groups[r.item] == g for user, g in user_group.items()
                for r in rec.recommend(user, k=2, candidates=cold)]
        return sum(hits) / len(hits), rec

    with_fields, rec = cold_share(True)
    without, _ = cold_share(False)
    assert rec.field_feature_names_ == [f"genres={g}" for g in sorted(GENRES)]
    assert with_fields >= 0.9 and without <= 0.7, (with_fields, without)
    near = rec.similar_items("western-12", k=5, space="factors")
    assert sum(groups[r.item] == "western" for r in near) >= 4


def test_new_users_from_one_liked_item_or_from_words(hybrid, world):
    _, _, groups, _ = world
    recs = hybrid.recommend_for_new_user(liked_items=["romance-1"], k=5)
    assert "romance-1" not in {r.item for r in recs}
    assert sum(groups[r.item] == "romance" for r in recs) >= 4
    recs = hybrid.recommend_for_new_user(liked_items={"space-2": 5, "space-4": 4}, k=5)
    assert sum(groups[r.item] == "space" for r in recs) >= 4
    recs = hybrid.recommend_for_new_user(text="cowboy horse sheriff", k=5)
    assert sum(groups[r.item] == "western" for r in recs) >= 4
    popular = hybrid.recommend_for_new_user(k=3)
    top_count = max(hybrid.item_counts_)
    assert dict(zip(hybrid.item_ids_, hybrid.item_counts_))[popular[0].item] == top_count


def test_blend_weights_are_tuned_on_held_out_data(hybrid):
    record = hybrid.validation_
    assert record["validation_interactions"] > 0 and record["pseudo_cold_items"] > 0
    for w in list(hybrid.blend_weights_) + [hybrid.cold_weights_]:
        assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    tuned = [b for b in record["buckets"] if b["weights"] is not None]
    assert tuned, record
    for b in tuned:
        # the best mix tried is at least as good as each signal alone; the chosen one (the
        # one-standard-error rule) is no better than the best
        for alone in ("ndcg_cf_only", "ndcg_content_only", "ndcg_popularity_only"):
            assert b["ndcg_best_tried"] >= b[alone] - 1e-9
        assert b["ndcg"] <= b["ndcg_best_tried"] + 1e-9
        if b["users"] >= 10:
            # every item is about equally popular here: popularity cannot carry the ranking
            assert b["weights"]["popularity"] < 0.5, b
    assert hybrid.content_ridge_ in [float(p) for p in record["content_ridge"]]


def test_fixed_blend_weights_are_used_as_given(world):
    rows, items, _, _ = world
    rec = Recommender(encoder=HashingEncoder(dim=64), factors=4, num_threads=1,
                      blend={"cf": 3, "content": 1}).fit(rows, items=items)
    assert rec.validation_ is None
    assert rec.weights_["1"] == {"cf": 0.75, "content": 0.25, "popularity": 0.0}


# ---------------------------------------------------------------------------- files and the store
def test_save_and_load_round_trip(hybrid, tmp_path):
    enc = HashingEncoder(dim=128)
    folder = hybrid.save(tmp_path / "rec")
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.safetensors", "recommender.json"]
    assert json.loads((folder / "recommender.json").read_text())["type"] == "recommender"
    back = Recommender.load(folder, encoder=enc)
    for user in ("u-space-1", "u-western-7"):
        assert hybrid.recommend(user, k=5) == back.recommend(user, k=5)
    assert hybrid.similar_items("romance-13", k=4) == back.similar_items("romance-13", k=4)
    assert (hybrid.recommend_for_new_user(["space-1"], text="robot planet", k=5)
            == back.recommend_for_new_user(["space-1"], text="robot planet", k=5))
    assert back.weights_ == hybrid.weights_
    assert back.get_params()["factors"] == hybrid.factors


def test_item_vectors_go_into_a_vector_store(hybrid):
    store = hybrid.to_store(":memory:")
    assert len(store) == len(hybrid.item_ids_)
    vectors = hybrid.item_vectors()
    i = hybrid.item_ids_.index("space-3")
    hits = store.search(vectors[i], k=3)
    assert hits[0].id == "space-3" and hits[0].metadata["ratings"] == hybrid.item_counts_[i]
    assert store.get(["space-13"])[0].metadata["cold"] is True


def test_reading_movielens_files(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n1\t20\t3\t881250950\n"
                                     "2\t10\t4\t881250951\n2\t30\t5\t881250952\n", encoding="utf-8")
    flags = "|".join(["0"] * 19)
    (tmp_path / "u.item").write_bytes(
        ("10|Caf\xe9 Society (1995)|01-Jan-1995||http://x|" + "0|1" + "|0" * 17 + "\n"
         "20|Other (1983)|14-Mar-1997||http://x|" + flags + "\n"
         "30|Third (1980)|01-Jan-1980||http://x|" + flags + "\n").encode("latin-1"))
    users, items, ratings, stamps = read_interactions(tmp_path / "u.data")
    assert users == ["1", "1", "2", "2"] and items[1] == "20" and ratings.tolist() == [5, 3, 4, 5]
    assert stamps is not None
    catalogue = read_items(tmp_path / "u.item")
    assert catalogue["10"] == {"title": "Café Society (1995)", "year": 1995, "genres": ["Action"]}
    assert item_text(catalogue["10"]) == "Café Society (1995). Genres: Action"
    assert catalogue["20"]["year"] == 1983 and item_text(catalogue["20"]) == "Other (1983)"
    assert item_text({"title": "Heat", "year": 1995}) == "Heat (1995)"
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n7,10,4.5\n", encoding="utf-8")
    assert read_interactions(tmp_path / "ratings.csv")[:2] == (["7"], ["10"])
    rec = Recommender(encoder=None, factors=2, num_threads=1).fit(tmp_path / "u.data",
                                                                  items=tmp_path / "u.item")
    assert rec.recommend(1, k=1)[0].item == "30"  # int ids find the file's text ids


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("rows, message", [
    ([], "no interactions"),
    ([("a", "x", "good")], "rating must be a number"),
    ([("a", "x", float("nan"))], "finite"),
    ([("a", "x", 0)], "positive"),
    ([("a", "x", True)], "bool"),
    ([("a",)], "2 to 4 fields"),
    ([(1.5, "x", 1)], "must be a str or int"),
    ([("a", "x", 1), ("a", "x", 2)], "more than once"),
    ("no/such/ratings.tsv", "no interactions file"),
])
def test_bad_interactions_are_clear_errors(rows, message):
    with pytest.raises(InvalidInput, match=message):
        Recommender(encoder=None, num_threads=1).fit(rows)


def test_unknown_ids_and_ids_without_data(world):
    rows, items, _, _ = world
    with pytest.raises(InvalidInput, match="not in items"):
        Recommender(encoder=None).fit(rows + [("u-space-0", "no-such-item", 3)], items=items)
    with pytest.raises(InvalidInput, match="not in users"):
        Recommender(encoder=None).fit(rows, users=["u-space-0"])
    with pytest.raises(InvalidInput, match="no ratings and no text"):  # cold items, no encoder
        Recommender(encoder=None).fit(rows, items=items)
    with pytest.raises(InvalidInput, match="no ratings and no text"):
        Recommender(encoder=HashingEncoder(dim=16)).fit(rows, items={**items, "blank": ""})
    users = sorted({u for u, _, _ in rows}) + ["ghost"]
    rec = Recommender(encoder=None, factors=4, num_threads=1).fit(rows, users=users)
    with pytest.raises(InvalidInput, match="has no interactions"):
        rec.recommend("ghost")
    with pytest.raises(InvalidInput, match="unknown user"):
        rec.recommend("nobody")
    with pytest.raises(InvalidInput, match="unknown item"):
        rec.similar_items("nothing")
    with pytest.raises(InvalidInput, match="unknown item"):
        rec.recommend_for_new_user(["nothing"])
    with pytest.raises(InvalidInput, match="k must be"):
        rec.recommend("u-space-0", k=0)
    with pytest.raises(InvalidInput, match="Invalid method"):
        rec.recommend("u-space-0", method="magic")
    with pytest.raises(InvalidInput, match="needs item texts"):
        rec.recommend_for_new_user(text="robots")


def test_duplicates_can_be_combined_on_request():
    rows = [("a", "x", 1, 100), ("a", "x", 5, 200), ("a", "y", 2, 50), ("b", "y", 4, 10)]
    rec = Recommender(encoder=None, factors=2, num_threads=1, duplicates="last").fit(rows)
    assert rec.interactions_[rec.user_ids_.index("a"), rec.item_ids_.index("x")] == 5
    rec = Recommender(encoder=None, factors=2, num_threads=1, duplicates="sum").fit(rows)
    assert rec.interactions_[rec.user_ids_.index("a"), rec.item_ids_.index("x")] == 6


def test_settings_are_checked_and_fit_comes_first():
    with pytest.raises(InvalidInput, match="Invalid cf"):
        Recommender(cf="svd").fit([("a", "x", 1)])
    with pytest.raises(InvalidInput, match="nothing to learn"):
        Recommender(cf=None, encoder=None).fit([("a", "x", 1)])
    with pytest.raises(InvalidInput, match="field_features must be True or False"):
        Recommender(field_features="yes").fit([("a", "x", 1)])
    with pytest.raises(NotFitted):
        Recommender().recommend("a")


# ---------------------------------------------------------------------------- CLI
def test_cli_fit_user_similar_new_and_bad_input(tmp_path, world):
    from click.testing import CliRunner

    from embedkit.cli import main

    rows, items, groups, _ = world
    ratings = tmp_path / "ratings.tsv"
    ratings.write_text("".join(f"{u}\t{i}\t{r:g}\n" for u, i, r in rows), encoding="utf-8")
    model = tmp_path / "model"
    runner = CliRunner()
    res = runner.invoke(main, ["recommend", "fit", str(ratings), "-o", str(model), "--factors", "8",
                               "--regularization", "1", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "saved to" in res.output and (model / "recommender.json").is_file()
    res = runner.invoke(main, ["recommend", "user", "u-romance-3", "--model", str(model), "-k", "3",
                               "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out) == 3 and sum(groups[r["item"]] == "romance" for r in out) >= 2
    res = runner.invoke(main, ["recommend", "similar", "space-1", "--model", str(model), "-k", "3"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 3
    res = runner.invoke(main, ["recommend", "new", "--like", "western-2", "--model", str(model)])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 10
    for args in (["recommend", "user", "nobody", "--model", str(model)],
                 ["recommend", "similar", "nothing", "--model", str(model)]):
        res = runner.invoke(main, args)
        assert res.exit_code == 2 and res.output.startswith("error: unknown")
        assert "Traceback" not in res.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tx\t5\nb\ty\tgreat\n", encoding="utf-8")
    res = runner.invoke(main, ["recommend", "fit", str(bad), "-o", str(tmp_path / "m2")])
    assert res.exit_code == 2 and "row 2: the rating must be a number" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(main, ["recommend", "user", "a", "--model", str(tmp_path / "none")])
    assert res.exit_code == 3 and res.output.startswith("error:")


@pytest.mark.slow
def test_cli_with_a_real_encoder_folder(tmp_path, world, tiny_st_model):
    from click.testing import CliRunner

    from embedkit.cli import main

    rows, items, _, _ = world
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user,item,rating\n" + "".join(f"{u},{i},{r:g}\n" for u, i, r in rows),
                       encoding="utf-8")
    catalogue = tmp_path / "items.jsonl"
    catalogue.write_text("".join(json.dumps({"id": i, **f}) + "\n" for i, f in items.items()),
                         encoding="utf-8")
    model = tmp_path / "model"
    res = CliRunner().invoke(main, ["recommend", "fit", str(ratings), "--items", str(catalogue),
                                    "--encoder", str(tiny_st_model), "-o", str(model),
                                    "--factors", "4", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["content"] is True and summary["cold_items"] == 3 * N_COLD
    res = CliRunner().invoke(main, ["recommend", "new", "--text", "rocket", "--model", str(model),
                                    "-k", "2"])
    assert res.exit_code == 0, res.output  # the recorded encoder folder is loaded for the text
    assert len(res.output.strip().splitlines()) == 2


# ---------------------------------------------------------------------------- metrics and split
def test_ranking_metrics_by_hand():
    m = ranking_metrics([["a", "b", "c", "d"], ["x", "y"], ["q"]],
                        [{"a", "c", "e"}, {"z"}, set()], k=4, n_items=10)
    assert m["users"] == 2  # the third user has nothing relevant and is left out
    assert m["precision"] == pytest.approx((2 / 4 + 0) / 2)
    assert m["recall"] == pytest.approx((2 / 3 + 0) / 2)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert m["ndcg"] == pytest.approx(dcg / idcg / 2)
    assert m["map"] == pytest.approx((1 + 2 / 3) / 3 / 2)        # over all 3 relevant
    assert m["map_at_k"] == pytest.approx((1 + 2 / 3) / 3 / 2)   # min(3, 4) = 3 too
    assert m["coverage"] == pytest.approx(7 / 10)


def test_stratified_split_is_per_user_and_seeded():
    users = np.repeat(np.arange(30), np.arange(1, 31))
    mask = stratified_split(users, ratio=0.75, seed=42)
    for u in range(30):
        assert mask[users == u].sum() == round(0.75 * (u + 1))
    assert (stratified_split(users, ratio=0.75, seed=42) == mask).all()
    assert not (stratified_split(users, ratio=0.75, seed=7) == mask).all()
