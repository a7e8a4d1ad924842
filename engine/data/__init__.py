"""Datasets and their sources: the Dataset type and its split (dataset), MNIST from a file, Keras' cache
or the embedded subset (mnist), folders of images and patches (folders), array files (arrays), image
files (images), CSV tables and their features (tables, table_features), scikit-image's sample photos
(samples), noise added on purpose (noise), and the one place a DataSpec becomes data (sources).
No TensorFlow."""
