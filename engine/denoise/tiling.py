"""Model inference on images of any size through overlapping tiles.

Tiling (`tiled_apply`, `denoise_tiled`): tiles lie inside the image and overlap by
2 * `overlap` pixels; of each tile only the centre is kept: `overlap` pixels are dropped
on every side that borders another tile, none on a side that is the image's own edge.
So every kept pixel saw `overlap` pixels of real context in each direction (or the real
image border, handled by the model's own padding exactly as in a whole-image run), and
for a model whose receptive field reaches at most `overlap` pixels from a pixel the
tiled result *is* the whole-image result (equal up to float rounding): no seams and no
blending needed. A smooth blending window would need ~2x the overlap for the same seam
error and an extra full-size weight buffer, so centre-cropping is used. An image that
fits in one tile is run whole. Padding happens only when the model needs a bigger
input than the image (a fixed-size model, or sizes that must be multiples of its
downsampling factor): reflected, or mirrored / edge-repeated where too small to reflect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from engine.core.errors import ConfigError, DataError, ModelError
from engine.core.jobs import JobState
from engine.models.guards import channel_plan, fixed_size, size_multiple, takes_noise_level

_BATCH_PIXELS = 1 << 19  # pixels of model input per call: bounds activation memory


def as_hwc(pixels: np.ndarray) -> np.ndarray:
    """(H, W) as (H, W, 1); (H, W, C) unchanged."""
    pixels = np.asarray(pixels)
    return pixels[..., None] if pixels.ndim == 2 else pixels


@dataclass(frozen=True)
class _Span:
    start: int  # first input row/column of the tile
    keep_from: int  # first output row/column this tile writes (absolute)
    keep_to: int


def _spans(length: int, tile: int, overlap: int) -> list[_Span]:
    """Tiles of `tile` (<= length) along one axis whose kept centres partition [0, length)."""
    if tile >= length:
        return [_Span(0, 0, length)]
    spans, begin = [], 0
    while begin < length:
        start = min(max(begin - overlap, 0), length - tile)
        end = length if start + tile >= length else start + tile - overlap
        spans.append(_Span(start, begin, end))
        begin = end
    return spans


def _pad_mode(size: int, pad: int) -> str:
    """Mirror without repeating the edge while the image is long enough; else mirror with it (which, for a
    single row, repeats that row)."""
    return "reflect" if pad < size else "symmetric"


def _pad_to(pixels: np.ndarray, height: int, width: int, centre: bool = True) -> tuple[np.ndarray, int, int]:
    """Pad to at least height x width, centred or (centre=False) at the bottom / right only, which keeps
    the image on a strided model's sampling grid; returns (array, top, left) offsets."""
    extra_h, extra_w = max(0, height - pixels.shape[0]), max(0, width - pixels.shape[1])
    if not (extra_h or extra_w):
        return pixels, 0, 0
    top, left = (extra_h // 2, extra_w // 2) if centre else (0, 0)
    out = pixels
    for axis, before, after in ((0, top, extra_h - top), (1, left, extra_w - left)):
        if before or after:
            widths = [(0, 0)] * out.ndim
            widths[axis] = (before, after)
            out = np.pad(out, widths, mode=_pad_mode(out.shape[axis], max(before, after)))
    return out, top, left


def _tile_size(length: int, tile: int, fixed: int | None, multiple: int) -> int:
    if fixed:
        return fixed
    if tile >= length:
        return -(-length // multiple) * multiple  # the whole axis, rounded up to the multiple
    return max(multiple, tile // multiple * multiple)


def count_tiles(shape: Sequence[int], *, tile: int = 512, overlap: int = 32, passes: int = 1,
                fixed: tuple[int | None, int | None] = (None, None), multiple: int = 1) -> int:
    """How many tiles `tiled_apply` runs on an image of `shape` (for progress totals)."""
    th = _tile_size(shape[0], tile, fixed[0], multiple)
    tw = _tile_size(shape[1], tile, fixed[1], multiple)
    h, w = (n + (-n % multiple if n > t else 0) for n, t in ((shape[0], th), (shape[1], tw)))
    oy, ox = _overlaps(th, tw, overlap, multiple)
    return passes * len(_spans(max(h, th), th, oy)) * len(_spans(max(w, tw), tw, ox))


def _overlaps(th: int, tw: int, overlap: int, multiple: int = 1) -> tuple[int, int]:
    """The overlap, reduced for tiles too small to keep a centre (fixed-size models), and a multiple of the
    model's downsampling factor: every tile then starts on the same sampling grid as a whole-image run."""
    up = -(-overlap // multiple) * multiple  # at least the context asked for, where the tile allows it
    return tuple(min(up, max(0, (t - 1) // 4) // multiple * multiple) for t in (th, tw))


def _align(source: np.ndarray, th: int, tw: int, multiple: int) -> np.ndarray:
    """Pad the bottom / right edge (reflected) of an axis covered by several tiles to a multiple of the model's
    downsampling factor, so that the last tile starts on the sampling grid too (a strided model gives another
    result for a shifted tile; the padding is cut from the output)."""
    extra = [(-n % multiple) if n > t else 0 for n, t in zip(source.shape[:2], (th, tw))]
    if multiple == 1 or not any(extra):
        return source
    widths = [(0, extra[0]), (0, extra[1])] + [(0, 0)] * (source.ndim - 2)
    return np.pad(source, widths, mode=_pad_mode(min(source.shape[:2]), max(extra)))


def tiled_apply(
    fn: Callable[[np.ndarray], Any],
    pixels: np.ndarray,
    *,
    out_channels: int | None = None,
    per_channel: bool = False,
    tile: int = 512,
    overlap: int = 32,
    fixed: tuple[int | None, int | None] = (None, None),
    multiple: int = 1,
    batch_size: int | None = None,
    state: JobState | None = None,
) -> np.ndarray:
    """Apply `fn` (a batch (n, h, w, c) -> (n, h, w, c')) to an (H, W, C) image tile by tile.

    per_channel: feed each channel alone as (n, h, w, 1). fixed: the (height, width) the
    function requires, if any; multiple: tile sizes must be multiples of it. With `state`: progress
    ("k of n tiles") after each batch, and Stopped (engine.core.jobs) between batches when asked to stop.
    Output: a new float32 (H, W, c') array (c' = out_channels, default C).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[0] < 1 or pixels.shape[1] < 1 or pixels.shape[2] < 1:
        raise DataError(f"Expected an image shaped (height, width, channels), got {pixels.shape}.")
    if tile < 1 or overlap < 0:
        raise ConfigError(f"tile must be >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}.")
    height, width, channels = pixels.shape
    th, tw = (_tile_size(n, tile, f, multiple) for n, f in ((height, fixed[0]), (width, fixed[1])))
    oy, ox = _overlaps(th, tw, overlap, multiple)  # small enough to keep a centre in every tile
    # a copy only when the image is smaller than a tile; fixed-size models get it centred
    source, top, left = _pad_to(pixels, th, tw, centre=fixed != (None, None))
    source = _align(source, th, tw, multiple)
    rows, cols = _spans(source.shape[0], th, oy), _spans(source.shape[1], tw, ox)
    groups = [slice(c, c + 1) for c in range(channels)] if per_channel else [slice(0, channels)]
    jobs = [(g, r, c) for g in groups for r in rows for c in cols]
    out_c = out_channels or channels
    out = np.empty((height, width, out_c * len(groups) if per_channel else out_c), np.float32)
    batch = batch_size or max(1, min(64, _BATCH_PIXELS // (th * tw)))
    total = len(jobs)
    for first in range(0, total, batch):
        if state is not None:
            state.check("Stopped before the image was finished.")
        part = jobs[first:first + batch]
        x = np.stack([source[r.start:r.start + th, c.start:c.start + tw, g] for g, r, c in part])
        x = x.astype(np.float32, copy=False)
        y = np.asarray(fn(x), dtype=np.float32)
        if y.ndim != 4 or y.shape[:3] != x.shape[:3]:
            raise ModelError(f"The model returned {y.shape[1:]} for an input of {x.shape[1:]}: only models that "
                             "output an image of the same height and width as their input can denoise.")
        if y.shape[-1] != out_c:
            raise ModelError(f"The model returned {y.shape[-1]} channels for {x.shape[-1]}: a denoiser must "
                             "output as many channels as it takes.")
        for k, (g, r, c) in enumerate(part):
            # drop any padding (an axis is padded only when one tile covers it, so every tile keeps pixels)
            y0, y1 = max(r.keep_from, top), min(r.keep_to, top + height)
            x0, x1 = max(c.keep_from, left), min(c.keep_to, left + width)
            dest = slice(g.start * out_c, g.stop * out_c) if per_channel else slice(None)
            out[y0 - top:y1 - top, x0 - left:x1 - left, dest] = \
                y[k, y0 - r.start:y1 - r.start, x0 - c.start:x1 - c.start]
        if state is not None:
            done = min(first + batch, total)
            state.progress(done, total, f"{done} of {total} tile{'s' if total != 1 else ''}")
    return out


# ----------------------------------------------------------------------------- models


def denoise_tiled(
    model,
    pixels: np.ndarray,
    *,
    noise_level=None,
    tile: int = 512,
    overlap: int = 32,
    batch_size: int | None = None,
    clip: bool = True,
    state: JobState | None = None,
) -> np.ndarray:
    """Run a fully convolutional Keras model over an image of any size, tile by tile.

    noise_level (engine.denoise.noise_level.NoiseLevel): what a noise-level-aware model
    (guards.takes_noise_level) is told, as a map built tile by tile; None: estimated from the image.
    Other models ignore it.

    pixels: (H, W) or (H, W, C) float in [0, 1]. A 1-channel model denoises a colour image
    channel by channel (a noise-level-aware one in a decorrelated colour space); otherwise the model's channels must match the image's. The result
    is a new float32 array shaped like `pixels` (clipped to [0, 1] unless clip=False).
    Exact (no seams) for models whose receptive field reaches <= `overlap` pixels; the
    default 32 covers a 12-layer 3x3 DnCNN (12) with margin. Memory: the input, the output
    and a batch of tiles (about 0.5 megapixels of model input at a time).
    """
    pixels = np.asarray(pixels)
    flat = pixels.ndim == 2
    image = pixels[..., None] if flat else pixels
    if image.ndim != 3:
        raise DataError(f"Expected an image shaped (height, width) or (height, width, channels), got {pixels.shape}.")
    per_channel = channel_plan(model, image.shape[-1])

    # predict_on_batch runs a compiled graph: measured peak RSS 0.88 GB for batches of 2 x 512^2
    # tiles through the bundled model, against 3.9 GB (and a 10 s first call) op by op in eager mode.
    call = getattr(model, "predict_on_batch", None)

    def predict(inputs):
        return np.asarray(call(inputs) if call is not None else model(inputs, training=False))

    level, decorrelate = None, False
    if takes_noise_level(model):
        if noise_level is None:
            from engine.denoise.noise_level import estimate_noise_level

            noise_level = estimate_noise_level(image)
        # a grey noise-aware model sees a colour image in a decorrelated colour space, each channel with the
        # noise level it has there (engine.denoise.colour)
        decorrelate = per_channel and image.shape[-1] == 3
        level = noise_level.for_channels(3 if decorrelate else 1 if per_channel else image.shape[-1])

    def run(x: np.ndarray) -> np.ndarray:
        if decorrelate:
            from engine.denoise.colour import from_opponent, opponent_std, to_opponent

            n, h, w, _ = x.shape

            def stack(a):  # (n, h, w, 3) -> (3n, h, w, 1): the three channels as three grey images
                return np.moveaxis(a, -1, 1).reshape(n * 3, h, w, 1)

            y = predict([stack(to_opponent(x)), stack(opponent_std(level.map(x)))])
            return from_opponent(np.moveaxis(y.reshape(n, 3, h, w), 1, -1))
        return predict([x, level.map(x)] if level is not None else x)

    if decorrelate and batch_size is None:  # three model images per tile: a third of the tiles per batch
        batch_size = max(1, min(64, _BATCH_PIXELS // (tile * tile)) // 3)
    split = per_channel and not decorrelate
    out = tiled_apply(run, image, per_channel=split, out_channels=1 if split else None, tile=tile,
                      overlap=overlap, fixed=fixed_size(model), multiple=size_multiple(model),
                      batch_size=batch_size, state=state)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out[..., 0] if flat else out
