"""What every layer records for operators: Prometheus metrics (`factory.observe.metrics`) and
structured log lines (`factory.observe.logs`). Takes models only; imported lazily where the
optional ``prometheus-client`` is missing (every call is then a no-op)."""
