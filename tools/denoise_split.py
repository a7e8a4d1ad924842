"""How the colour photographs of ../shared/data/colour are split for the bundled colour denoiser: the images
held out for the benchmark's figures (never seen in training), the validation images that pick the best
weights, and the rest for training. One owner, read by tools/train_denoiser.py and benchmarks/denoise_quality.py."""
from __future__ import annotations

from pathlib import Path

COLOUR_HELD_OUT = ("kodim01.png", "kodim04.png", "kodim08.png", "kodim13.png", "kodim19.png", "kodim23.png",
                   "mcmaster_03.png", "mcmaster_09.png", "mcmaster_13.png", "mcmaster_17.png")
COLOUR_VALIDATION = ("kodim02.png", "mcmaster_06.png")


def colour_photos(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.png"))
