"""The command line: ``parser`` (arguments), ``commands`` (one function per subcommand),
``main`` (run one, with the error policy); ``python -m yolov11`` is ``main.main``."""
