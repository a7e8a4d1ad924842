"""Training an autoencoder: `fit.train` around keras.Model.fit with small callbacks that each do one job
(callbacks), the compile settings and input pipeline (pipeline), every run recorded in the run store
(runs, recorder, checkpoints), the resume rule (resume) and tf.distribute strategies (distribute)."""
