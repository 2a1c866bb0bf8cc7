"""httpx client for the Ionworks REST API: auth, retries, paging, concurrency and error mapping.

Modules: ``settings`` (credentials and env vars), ``session`` (one request with retries),
``responses`` (HTTP -> :mod:`reconciler.errors`), ``client`` (the calls ionworks-apply makes).
"""

from __future__ import annotations

from reconciler.api.client import CascadeCount, IonworksClient
from reconciler.api.settings import ApiSettings, Credentials

__all__ = ["ApiSettings", "CascadeCount", "Credentials", "IonworksClient"]
