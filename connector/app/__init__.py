"""The daemon's lifecycle (threads, scheduler, signals, the monitor) and the demo.

Owns: `daemon` (`connector run`), `demo` (`connector demo` and `connector sandbox`: the only place the product
imports the `sandbox` package, and only when those commands run).
May import: every other package of `connector`; only the CLI imports it.
"""
