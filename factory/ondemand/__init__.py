"""Documents on demand: one record of a job, rendered now through the batch's own pipeline.

Takes a job, a record as JSON and who asks; gives the archived document (see `service`).
Used by ``POST /api/documents`` and ``docfactory render``.
"""

from factory.ondemand.service import OnDemandResult, OnDemandService, RenderRequest

__all__ = ["OnDemandResult", "OnDemandService", "RenderRequest"]
