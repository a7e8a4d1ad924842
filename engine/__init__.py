"""Autoencoder Studio's engine: everything the app does, with no Qt. The GUI (gui/) and the command line
(cli/) are front ends over it. Packages, lowest layer first (a package imports only from layers below
it; .importlinter keeps that true):

    core      settings and their limits, events, the job model, the user's errors, file writing
    data      datasets: MNIST, image folders and patches, array files, tables, noise
    models    model builders, the app's Keras classes, model files, shape checks, batched prediction
    training  fitting with small callbacks, the run store, checkpoints, resume, distribution
    latent | denoise | anomaly | export    the capabilities built on the layers above
    jobs      every background job, composing the capabilities

See docs/ARCHITECTURE.md for the map.
"""
