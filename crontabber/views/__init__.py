"""Seeing the jobs: one snapshot of the ledger (``snapshot``) drawn as a dependency graph
(``graph``), a self-contained status page (``status_page``) and Prometheus metrics
(``metrics``). Read-only: nothing here writes the ledger."""
