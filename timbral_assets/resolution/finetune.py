"""Fine-tuning the sentence encoder on the synthetic world, and measuring whether it helped.

Training data comes from a world's truth: each true track's canonical "artist - title" is an anchor, one of
its messy strings (a typo, another script, swapped fields, a feat. credit ...) the positive, and a hard
negative the string that must stay apart: its live take, remix or cover when the world has one, else
another song by the same artist. The loss is multiple-negatives ranking (in-batch softmax over cosine
similarities, the positives against every other positive and every hard negative in the batch), in a plain
torch loop on CPU.

The evaluation is retrieval, the semantic tier's job: each messy string of a held-out world searches the
canonical strings of all its tracks; recall@1 and recall@5 overall and per variant kind, and the share of
hard negatives that a messy string of the track puts behind its true track.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from .embeddings import TextEncoder
from .encoders import PACKAGED_MODEL, source_path
from .records import embedding_text


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str


def _truth(truth_dir: Path) -> tuple[dict[str, tuple[str, str, str]], dict[str, list[tuple[str, str]]],
                                     dict[str, list[str]]]:
    """track -> (canonical text, artist id, version); track -> [(variant text, kind)]; track -> hard negatives."""
    con = duckdb.connect()
    tracks = {r[0]: (embedding_text(r[1], r[2]), r[3], r[4]) for r in con.sql(f"""
        SELECT true_track_id, artist, title, true_artist_id, version
        FROM read_parquet('{truth_dir / "tracks.parquet"}')""").fetchall()}
    variants: dict[str, list[tuple[str, str]]] = {}
    for track, artist, title, kind in con.sql(f"""
            SELECT DISTINCT true_track_id, artist, title, variant_kind
            FROM read_parquet('{truth_dir / "variants.parquet"}') ORDER BY ALL""").fetchall():
        text = embedding_text(artist, title)
        if track in tracks and text != tracks[track][0]:
            variants.setdefault(track, []).append((text, kind))
    negatives: dict[str, list[str]] = {}
    for a, b in con.sql(f"SELECT track_id, other_track_id FROM read_parquet('{truth_dir / 'hard_negatives.parquet'}') "
                        "ORDER BY ALL").fetchall():
        negatives.setdefault(a, []).append(b)
        negatives.setdefault(b, []).append(a)
    con.close()
    return tracks, variants, negatives


def training_triplets(truth_dir: Path, per_track: int = 2, seed: int = 0) -> list[Triplet]:
    """Up to `per_track` (anchor, messy positive, hard negative) triplets for every true track of a world."""
    rng = random.Random(seed)
    tracks, variants, negatives = _truth(Path(truth_dir))
    by_artist: dict[str, list[str]] = {}
    for track, (_, artist, _) in tracks.items():
        by_artist.setdefault(artist, []).append(track)
    all_tracks = sorted(tracks)
    out = []
    for track in sorted(variants):
        anchor = tracks[track][0]
        for text, _ in rng.sample(variants[track], min(per_track, len(variants[track]))):
            siblings = [t for t in by_artist[tracks[track][1]] if t != track]
            pool = negatives.get(track) or siblings or all_tracks
            other = rng.choice(pool)
            if other == track:
                continue
            out.append(Triplet(anchor, text, tracks[other][0]))
    rng.shuffle(out)
    return out


@dataclass
class FinetuneRun:
    output_dir: Path
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def finetune_encoder(triplets: list[Triplet], output_dir: Path, base_model: str = PACKAGED_MODEL, epochs: int = 1,
                     batch_size: int = 32, learning_rate: float = 3e-5, scale: float = 20.0, seed: int = 0) -> FinetuneRun:
    """Multiple-negatives ranking loss with hard negatives; saves a sentence-transformers model folder that
    `TextEncoder(str(output_dir))` loads like the base model."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    if not triplets:
        raise ValueError("no training triplets: the world's truth has no messy variants")
    torch.manual_seed(seed)
    model = SentenceTransformer(str(source_path(base_model)), device="cpu")
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    total_steps = epochs * ((len(triplets) + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / max(1, total_steps // 10)))  # linear warm-up over 10%
    rng = random.Random(seed)
    losses: list[float] = []
    started = time.perf_counter()

    prepare = getattr(model, "preprocess", None) or model.tokenize  # `tokenize` is deprecated in sentence-transformers 6

    def embed(texts: list[str]):
        features = prepare(texts)
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(epochs):
        order = list(triplets)
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            anchors = embed([t.anchor for t in batch])
            candidates = embed([t.positive for t in batch] + [t.negative for t in batch])
            logits = scale * anchors @ candidates.T  # each anchor against all positives and hard negatives
            loss = F.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save(str(output_dir))
    return FinetuneRun(output_dir, len(losses), time.perf_counter() - started, losses)


@dataclass
class RetrievalScores:
    queries: int
    recall_at_1: float
    recall_at_5: float
    hard_negative_accuracy: float  # share of (messy string, hard negative) where the true track ranks higher
    recall_at_1_by_kind: dict[str, float] = field(default_factory=dict)

    def metrics(self, prefix: str = "") -> dict[str, float]:
        out = {f"{prefix}recall_at_1": self.recall_at_1, f"{prefix}recall_at_5": self.recall_at_5,
               f"{prefix}hard_negative_accuracy": self.hard_negative_accuracy, f"{prefix}queries": self.queries}
        out.update({f"{prefix}recall_at_1/{k}": v for k, v in self.recall_at_1_by_kind.items()})
        return out


def evaluate_encoder(encoder: TextEncoder, truth_dir: Path, max_queries: int = 4000, seed: int = 0) -> RetrievalScores:
    """Messy strings of a world search its canonical track strings (see the module docstring)."""
    import faiss

    rng = random.Random(seed)
    tracks, variants, negatives = _truth(Path(truth_dir))
    track_ids = sorted(tracks)
    row = {t: i for i, t in enumerate(track_ids)}
    # placeholders ("ID - ID") name no track and are left to the rules tier
    queries = [(text, kind, track) for track in sorted(variants) for text, kind in variants[track]
               if kind != "unknown_id"]
    queries = rng.sample(queries, min(max_queries, len(queries)))
    corpus = encoder.encode([tracks[t][0] for t in track_ids])
    query_vectors = encoder.encode([q[0] for q in queries])
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(np.ascontiguousarray(corpus))
    _, hits = index.search(np.ascontiguousarray(query_vectors), 5)
    at_1, at_5, by_kind = [], [], {}
    for (_, kind, track), found in zip(queries, hits, strict=True):
        at_1.append(found[0] == row[track])
        at_5.append(row[track] in found)
        by_kind.setdefault(kind, []).append(found[0] == row[track])
    wins = []
    for q, (_, _, track) in enumerate(queries):
        for other in negatives.get(track, []):
            wins.append(float(query_vectors[q] @ corpus[row[track]]) > float(query_vectors[q] @ corpus[row[other]]))
    return RetrievalScores(len(queries), float(np.mean(at_1)), float(np.mean(at_5)),
                           float(np.mean(wins)) if wins else float("nan"),
                           {k: float(np.mean(v)) for k, v in sorted(by_kind.items())})
