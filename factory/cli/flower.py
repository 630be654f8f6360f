"""The cluster's Celery app built from the environment, for Celery's own tools.

Takes ``FACTORY_BROKER_URL`` and ``FACTORY_CLUSTER``; gives ``app``, the Celery app the workers
and coordinators of that cluster use (queue, key prefix, event exchange), so that::

    FACTORY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A factory.cli.flower flower

shows the cluster's workers and tasks (``docfactory worker`` sends task events by default), and
``celery -A factory.cli.flower inspect active`` asks them what they run.
"""

from __future__ import annotations

import os

from factory.cli.cluster import cluster_options
from factory.executors.celery_app import make_app

app = make_app(cluster_options(os.environ))
