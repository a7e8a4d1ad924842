"""A VAE's or AAE's latent space: codes, decoding, prior samples, the 2-D plane and interpolation
(codes), and per-image posterior refinement with the ELBO (inference)."""
