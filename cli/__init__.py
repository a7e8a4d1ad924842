"""The command line, a front end beside gui/: `python main.py train|denoise|score|export ...`. Arguments
(parser), entry point and exit statuses by error type (app), the four commands (commands), progress on
stderr and Ctrl-C as the stop request (progress). No Qt; importing it loads neither NumPy nor TensorFlow."""
