"""Feature commands, one module each; every module here is imported by ``clientpulse.cli.main``.

A module adds its commands to ``clientpulse.app.app`` (``@app.command()``) and raises named exceptions;
``main`` turns ``ConfigError`` (exit 2) and ``UsageProblem`` or any exception a module appends to
``clientpulse.app.CLEAR_ERRORS`` (exit 1) into one line.
"""
