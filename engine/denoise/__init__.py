"""Denoising photographs of any size: overlapping tiles (tiling), the classical methods compared with the
deep ones (classical), PSNR / SSIM (metrics), several methods side by side on one photo (pipeline) and the
name and bit depth of a saved result (files)."""
