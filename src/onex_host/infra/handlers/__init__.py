"""Per-request handlers: one module per upstream, registered in ``onex_host.infra.wiring``.

Modules are imported by the wiring registry only when a contract enables them.
"""
