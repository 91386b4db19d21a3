"""Diffusion architectures the recorder and the live mode can build, and one request's work.

Each :class:`ModelSpec` holds a diffusers ``UNet2DConditionModel`` config, an
``AutoencoderKL`` config (only its decoder is run) and, where the model has them, CLIP text
encoder configs (run only if ``transformers`` is installed). The configs are the published
architectures written out here (no download): ``sd15`` (Stable Diffusion 1.5), ``sdxl``
(SDXL base 1.0) and two tiny configs for CPU tests: ``tiny`` (SD 1.5-shaped) and ``tiny-xl``
(SDXL-shaped: ``text_time`` added conditioning). Random weights have the same shapes, hence
the same cost, as trained ones.

:class:`DiffusionWorkload` runs what one request costs: text encoding, ``steps`` UNet calls
with classifier-free guidance (batch 2, as diffusers pipelines do) plus a scheduler update,
and one VAE decode. Weights are loaded from a diffusers pipeline folder (``unet/``,
``vae/``, ``text_encoder/``, ``text_encoder_2/``), which is what a cold start measures.

Importing this module imports torch and diffusers: only the ``profile`` and ``live``
commands do, lazily.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach the network (set before diffusers loads the hub client)

import torch  # noqa: E402
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402

__all__ = ["ModelSpec", "MODELS", "get_model", "save_random_weights", "DiffusionWorkload", "TEXT_TOKENS"]

TEXT_TOKENS = 77
"""CLIP's context length: every prompt is padded to 77 tokens."""


@dataclass(frozen=True)
class ModelSpec:
    """One architecture: component configs and what its UNet call needs."""

    name: str
    description: str
    unet: dict[str, Any] = field(hash=False)
    vae: dict[str, Any] = field(hash=False)
    text_encoders: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    """CLIP text configs; the last one gives the pooled embedding when ``pooled_dim`` > 0."""
    pooled_dim: int = 0
    """Width of the pooled text embedding of SDXL-style ``text_time`` conditioning (0: none)."""

    @property
    def vae_scale(self) -> int:
        """Image pixels per latent pixel (2 per VAE down block after the first)."""
        return 2 ** (len(self.vae["block_out_channels"]) - 1)

    @property
    def latent_channels(self) -> int:
        return int(self.unet["in_channels"])

    @property
    def context_dim(self) -> int:
        return int(self.unet["cross_attention_dim"])

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        """(channels, height, width) of the latent for an image; sides must divide by the VAE scale."""
        scale = self.vae_scale
        if width % scale or height % scale or width <= 0 or height <= 0:
            raise ValueError(f"model {self.name!r}: resolution {width}x{height} must be positive multiples of {scale}")
        return self.latent_channels, height // scale, width // scale


def _vae(block_out_channels: tuple[int, ...], layers: int, groups: int, scaling: float) -> dict[str, Any]:
    n = len(block_out_channels)
    return dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=block_out_channels,
        layers_per_block=layers,
        latent_channels=4,
        norm_num_groups=groups,
        scaling_factor=scaling,
    )


def _clip(hidden: int, layers: int, heads: int, intermediate: int, act: str, projection: int = 0) -> dict[str, Any]:
    config = dict(
        vocab_size=49408,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=TEXT_TOKENS,
        hidden_act=act,
    )
    if projection:
        config["projection_dim"] = projection
    return config


_SD15 = ModelSpec(
    name="sd15",
    description="Stable Diffusion 1.5: UNet 860M, CLIP ViT-L/14 text encoder, KL-f8 VAE",
    unet=dict(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=768,
        attention_head_dim=8,
        norm_num_groups=32,
    ),
    vae=_vae((128, 256, 512, 512), 2, 32, 0.18215),
    text_encoders=(_clip(768, 12, 12, 3072, "quick_gelu"),),
)

_SDXL = ModelSpec(
    name="sdxl",
    description="SDXL base 1.0: UNet 2.6B with text_time conditioning, CLIP ViT-L + OpenCLIP ViT-bigG, KL-f8 VAE",
    unet=dict(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        cross_attention_dim=2048,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        norm_num_groups=32,
    ),
    vae=_vae((128, 256, 512, 512), 2, 32, 0.13025),
    text_encoders=(_clip(768, 12, 12, 3072, "quick_gelu"), _clip(1280, 32, 20, 5120, "gelu", projection=1280)),
    pooled_dim=1280,
)

_TINY = ModelSpec(
    name="tiny",
    description="tiny SD 1.5-shaped config for CPU tests (UNet 0.8M parameters): 64x64 is an 8x8 latent",
    unet=dict(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    ),
    vae=_vae((8, 16, 16, 16), 1, 8, 0.18215),
    text_encoders=(_clip(32, 2, 4, 64, "quick_gelu"),),
)

_TINY_XL = ModelSpec(
    name="tiny-xl",
    description="tiny SDXL-shaped config for CPU tests (text_time conditioning, two text encoders)",
    unet=dict(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2),
        attention_head_dim=(4, 8),
        cross_attention_dim=64,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,
        norm_num_groups=8,
    ),
    vae=_vae((8, 16, 16, 16), 1, 8, 0.13025),
    text_encoders=(_clip(32, 2, 4, 64, "quick_gelu"), _clip(32, 2, 4, 64, "gelu", projection=32)),
    pooled_dim=32,
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (_SD15, _SDXL, _TINY, _TINY_XL)}
"""Every architecture ``eat-bench profile --model`` knows."""


def get_model(name: str) -> ModelSpec:
    """The architecture called ``name``; ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def _transformers() -> Any | None:
    """The transformers package, or None (text encoders are then skipped)."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers


def has_text_encoders(spec: ModelSpec) -> bool:
    """Whether this model's text encoders will be built and timed here."""
    return bool(spec.text_encoders) and _transformers() is not None


def _text_classes(spec: ModelSpec) -> list[tuple[str, Any, Any]]:
    tf = _transformers()
    out = []
    for i, config in enumerate(spec.text_encoders):
        folder = "text_encoder" if i == 0 else f"text_encoder_{i + 1}"
        model_cls = tf.CLIPTextModelWithProjection if "projection_dim" in config else tf.CLIPTextModel
        out.append((folder, model_cls, tf.CLIPTextConfig(**config)))
    return out


def save_random_weights(spec: ModelSpec, directory: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write randomly initialised weights of ``spec`` as a diffusers pipeline folder.

    Same shapes and cost as trained weights; the images are noise. Returns the folder.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    UNet2DConditionModel(**spec.unet).save_pretrained(root / "unet")
    AutoencoderKL(**spec.vae).save_pretrained(root / "vae")
    if has_text_encoders(spec):
        for folder, model_cls, config in _text_classes(spec):
            model_cls(config).save_pretrained(root / folder)
    return root


class DiffusionWorkload:
    """A loaded model on one device, ready to run requests; :meth:`load` is the cold start."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.spec = spec
        self.device = torch.device(device)
        self.dtype = dtype
        self.unet: Any = None
        self.vae: Any = None
        self.text_encoders: list[Any] = []
        self._generator = torch.Generator(device="cpu")

    # ------------------------------------------------------------------ loading
    def load(self, weights: str | os.PathLike[str]) -> float:
        """Load every component from a pipeline folder onto the device; seconds it took."""
        self.unload()
        root = Path(weights)
        for sub in ("unet", "vae"):
            if not (root / sub).is_dir():
                raise FileNotFoundError(
                    f"weights folder {root} has no '{sub}/' subfolder (a diffusers pipeline layout)"
                )
        self.synchronize()
        begin = time.perf_counter()
        # low_cpu_mem_usage=False: the plain loader, the same with or without accelerate installed.
        common = dict(local_files_only=True, torch_dtype=self.dtype, low_cpu_mem_usage=False)
        self.unet = UNet2DConditionModel.from_pretrained(root / "unet", **common).to(self.device).eval()
        self.vae = AutoencoderKL.from_pretrained(root / "vae", **common).to(self.device).eval()
        if has_text_encoders(self.spec):
            for folder, model_cls, _ in _text_classes(self.spec):
                if (root / folder).is_dir():
                    model = model_cls.from_pretrained(root / folder, **common)
                    self.text_encoders.append(model.to(self.device).eval())
        self.synchronize()
        return time.perf_counter() - begin

    def unload(self) -> None:
        """Drop the weights (the next request is a cold start)."""
        self.unet, self.vae, self.text_encoders = None, None, []
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @property
    def loaded(self) -> bool:
        return self.unet is not None

    def synchronize(self) -> None:
        """Wait for queued device work (CUDA kernels run asynchronously)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ one request
    def prepare(self, width: int, height: int, seed: int = 0) -> dict[str, Any]:
        """Inputs of one request at this resolution: initial latents and token ids."""
        channels, h, w = self.spec.latent_shape(width, height)
        self._generator.manual_seed(seed)
        latents = torch.randn((1, channels, h, w), generator=self._generator)
        tokens = torch.randint(0, 49408, (2, TEXT_TOKENS), generator=self._generator)  # prompt + empty prompt
        return {
            "latents": latents.to(self.device, self.dtype),
            "tokens": tokens.to(self.device),
            "width": width,
            "height": height,
        }

    @torch.inference_mode()
    def encode_text(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Text conditioning: the encoders' hidden states, or random ones of the same shape
        when the model has no text encoder here (then this costs nothing)."""
        spec = self.spec
        if self.text_encoders:
            states, pooled = [], None
            for encoder in self.text_encoders:
                out = encoder(inputs["tokens"], output_hidden_states=True)
                states.append(out.hidden_states[-2])
                pooled = out.text_embeds if hasattr(out, "text_embeds") else out.pooler_output
            context = torch.cat(states, dim=-1)
            if context.shape[-1] != spec.context_dim:  # a model with one encoder narrower than the UNet
                context = torch.nn.functional.pad(context, (0, spec.context_dim - context.shape[-1]))
        else:
            context = torch.randn((2, TEXT_TOKENS, spec.context_dim), generator=self._generator)
            pooled = torch.randn((2, spec.pooled_dim), generator=self._generator) if spec.pooled_dim else None
        cond: dict[str, Any] = {"encoder_hidden_states": context.to(self.device, self.dtype)}
        if spec.pooled_dim:
            h, w = inputs["height"], inputs["width"]
            time_ids = torch.tensor([[h, w, 0, 0, h, w]] * 2, dtype=self.dtype, device=self.device)
            cond["added_cond_kwargs"] = {"text_embeds": pooled.to(self.device, self.dtype), "time_ids": time_ids}
        return cond

    @torch.inference_mode()
    def step(self, latents: torch.Tensor, cond: dict[str, Any], index: int, steps: int) -> torch.Tensor:
        """One denoising step: the UNet on (unconditional, conditional) and a DDIM-like update."""
        t = torch.tensor(999 * (1 - index / max(steps, 1)), device=self.device)
        noise = self.unet(torch.cat([latents, latents]), t, **cond).sample
        uncond, text = noise.chunk(2)
        guided = uncond + 7.5 * (text - uncond)
        return latents - guided / max(steps, 1)

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """The VAE decoder: latents to an image tensor."""
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample

    def run(self, inputs: dict[str, Any], steps: int) -> dict[str, float]:
        """A whole request (text encode, ``steps`` steps, decode), timed per phase (seconds)."""
        self.synchronize()
        t0 = time.perf_counter()
        cond = self.encode_text(inputs)
        self.synchronize()
        t1 = time.perf_counter()
        latents = inputs["latents"]
        for i in range(steps):
            latents = self.step(latents, cond, i, steps)
        self.synchronize()
        t2 = time.perf_counter()
        self.decode(latents)
        self.synchronize()
        t3 = time.perf_counter()
        return {"text_s": t1 - t0, "steps_s": t2 - t1, "decode_s": t3 - t2}
