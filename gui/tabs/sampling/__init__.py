"""Sampling tab: prior samples, the latent manifold and scatter, interpolation (sampling_view and the
plots it holds)."""
