"""The networks: builders for every autoencoder kind (builders, generative_parts, sequence, denoiser), the
app's own Keras classes (generative: VAE, AAE), model files opened in safe mode (files), what a model is
made of (architecture), the shape checks every capability makes before using a model (guards) and the
one batched-prediction loop (predict)."""
