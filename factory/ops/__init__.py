"""Operations: health and readiness checks, the scheduler, run notifications.

Sits between the edges (cli, api) and the runner: it may start runs and read the archive, and
the edges call it. Metrics and structured logs, which every layer records, are in
`factory.observe`.
"""
