"""The sentence encoders built offline from a model folder (resolution/encoders.py): the int8 network gives the
network's vectors, the static encoder is deterministic and keeps the network's sense of what is alike, builds
are published whole and reused, and bad names fail clearly."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder
from timbral_assets.resolution.encoders import (
    NAME_ENCODER,
    PACKAGED_MODEL,
    TEXT_ENCODER,
    built_folder,
    load_encoder,
    parse_spec,
    source_path,
)

NAMES = ["Radiohead - Karma Police", "radiohead - karma police (remastered)", "Radiohed - Karma Polise",
         "Beyoncé feat. JAY-Z - Drunk in Love", "beyonce - drunk in love", "Daft Punk - One More Time",
         "ビヨンセ - Drunk In Love", "Miles Davis - So What", "Nirvana - Smells Like Teen Spirit (Live)", ""]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A two-layer BERT with the packaged model's word pieces and random weights: a real sentence-transformers
    folder that builds in a second, for the build machinery (the packaged model's own builds are make install's)."""
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    (folder / "bert").mkdir(parents=True)
    BertModel(config).save_pretrained(folder / "bert")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source_path(PACKAGED_MODEL) / name, folder / "bert" / name)
    transformer = models.Transformer(str(folder / "bert"), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder))
    shutil.copy(source_path(PACKAGED_MODEL) / "tokenizer.json", folder / "tokenizer.json")
    return folder


def test_the_int8_network_gives_the_networks_vectors():
    network, int8 = load_encoder(PACKAGED_MODEL), load_encoder(NAME_ENCODER)
    a, b = network.encode(NAMES[:-1]), int8.encode(NAMES[:-1])
    assert a.shape == b.shape == (len(NAMES) - 1, 384)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(1).min() > 0.98  # the same vector, to int8 rounding
    # the same neighbours for the spellings of one track (the unrelated names' nearest are near ties)
    sims_a, sims_b = a @ a.T - 2 * np.eye(len(a)), b @ b.T - 2 * np.eye(len(b))
    assert (sims_a.argmax(1)[:5] == sims_b.argmax(1)[:5]).all()
    assert set(sims_b.argmax(1)[:3]) <= {0, 1, 2} and set(sims_b.argmax(1)[3:5]) <= {3, 4, 6}


def test_the_static_encoder_keeps_what_is_alike_and_is_deterministic():
    static = load_encoder(TEXT_ENCODER)
    vectors = static.encode(NAMES)
    assert vectors.shape == (len(NAMES), 256)
    assert np.allclose(np.linalg.norm(vectors[:-1], axis=1), 1.0, atol=1e-5) and not vectors[-1].any()  # "" -> 0
    assert np.array_equal(vectors, static.encode(NAMES))
    assert np.array_equal(vectors[3], static.encode([NAMES[3]])[0])  # a text's vector does not depend on its batch
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 5] and sims[3, 4] > sims[3, 7]  # spellings of one track, before other tracks


def test_a_build_is_published_whole_and_reused(tmp_path, tiny_model):
    root = tmp_path / "cache"
    folders, errors = [], []

    def build(backend: str) -> None:
        try:
            folders.append(built_folder(f"{tiny_model}@{backend}", root))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=build, args=(b,)) for b in ("onnx-int8", "static", "onnx-int8")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(folders)) == 2
    assert sorted(p.name.split("-")[-2] for p in root.iterdir()) == ["int8", "static"]  # no half-built leftovers
    onnx = built_folder(f"{tiny_model}@onnx-int8", root)
    stamp = (onnx / "model.onnx").stat().st_mtime_ns
    assert built_folder(f"{tiny_model}@onnx-int8", root) == onnx and (onnx / "model.onnx").stat().st_mtime_ns == stamp
    # another model's bytes are another build
    (tiny_model / "extra.txt").write_text("changed")
    try:
        assert built_folder(f"{tiny_model}@onnx-int8", root) != onnx
    finally:
        (tiny_model / "extra.txt").unlink()


def test_bad_encoder_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'fp16'"):
        parse_spec(f"{PACKAGED_MODEL}@fp16")
    with pytest.raises(FileNotFoundError, match="cannot be downloaded"):
        built_folder("someone/some-model@static", tmp_path)
    with pytest.raises(ValueError, match="nothing to build"):
        built_folder(PACKAGED_MODEL, tmp_path)
    assert parse_spec(PACKAGED_MODEL) == (PACKAGED_MODEL, "torch")


def test_the_cache_keeps_each_encoders_vectors_apart(tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings.duckdb")
    names, texts = TextEncoder(NAME_ENCODER, cache), TextEncoder(TEXT_ENCODER, cache)
    a, b = names.encode(NAMES[:3]), texts.encode(NAMES[:3])
    assert a.shape[1] == 384 and b.shape[1] == 256 and names.encoded_count == texts.encoded_count == 3
    again = TextEncoder(NAME_ENCODER, cache)
    assert np.array_equal(again.encode(NAMES[:3]), a) and again.encoded_count == 0
    assert cache.size() == 6


def test_a_cache_left_open_keeps_nobody_from_its_file(tmp_path):
    import duckdb

    cache = EmbeddingCache(tmp_path / "embeddings.duckdb")  # never closed, as a forgotten resource would be
    cache.put("m", ["h1"], np.ones((1, 3), dtype=np.float32))
    # a read-only reader in the same process failed while the cache held the file open (CI, test_mood_assets)
    reader = duckdb.connect(str(tmp_path / "embeddings.duckdb"), read_only=True)
    assert reader.execute("SELECT count(*) FROM embeddings").fetchall()[0][0] == 1
    reader.close()
    assert cache.get("m", ["h1", "h2"])["h1"].tolist() == [1.0, 1.0, 1.0] and cache.size() == 1
