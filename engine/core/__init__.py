"""What every other part of the engine stands on: validated settings and their limits (config), the small
events work reports (events), the job model and its one way to stop (jobs), the one hierarchy of the
user's errors (errors), atomic file writing (fileio) and the paths of what the product ships (resources).
Imports nothing heavy: no NumPy in config and errors, no TensorFlow anywhere."""
