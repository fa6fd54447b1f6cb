"""Local infrastructure: Kafka (KRaft), Redis and the Flink runtime jars, started and stopped from Python.

Modules: ``jars`` (Maven resolution), ``kafka``, ``redis``, ``flink``, ``stack`` (``omniseq up``/``down``) and
``testing`` (pytest fixtures). Nothing starts at import time.
"""

from omniseq.infra.process import InfraError

__all__ = ["InfraError"]
