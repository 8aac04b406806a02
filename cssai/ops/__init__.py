"""The operator's tools: the CLI and what it runs on an operator's machine (serve, sign/send, replay,
report, doctor, streams, setup). The Event Function never imports this package: its path is
``index.main_handler`` -> ``cssai.entry`` -> ``cssai.pipeline``. (``serve`` also answers as an SCF Web
Function, so the package still ships it.)
"""
