"""The per-record flow that runs inside workers: route, render, store, send, index.

Takes a `WorkerConfig` and records; gives outcomes. This package's top level is deliberately
light (no WeasyPrint): the coordinator imports `WorkerConfig` from here, and only worker
processes import `factory.pipeline.worker` (the flow), `factory.pipeline.channels` (one
plug-in per channel and their registry), `factory.pipeline.document` (the PDF renderer),
`factory.pipeline.messages` (email and SMS) and `factory.pipeline.delivery` (the send
protocol).
"""

from factory.pipeline.config import CHANNEL, WorkerConfig

__all__ = ["CHANNEL", "WorkerConfig"]
