"""A local Ionworks-compatible API for trying ionworks-apply without an Ionworks account.

FastAPI + uvicorn + one sqlite file. It imports nothing from the reconciler core and the core
imports nothing from it: the only link is HTTP, exactly as with the real API.

Modules::

    settings.py     SandboxSettings (stdlib only, so the CLI can import it cheaply)
    server.py       SandboxServer: uvicorn in a background thread
    app.py          create_app: routers, error handlers
    gateway.py      the ASGI layer in front of FastAPI: auth, journal, faults, gzip, headers
    faults.py       fault injector and request journal
    db.py           sqlite connection, schema, tenant, monotonic clock
    errors.py       HTTP error values the routes raise
    validation.py   Quantity rules, deep merge, filters for list endpoints
    models.py       request bodies (pydantic)
    specs.py        cell specifications, components, materials
    cells.py        instances, batches, measurements
    seeding.py      bulk data for demos and benchmarks
    api_*.py        routers
    cli.py          click group `sandbox` (serve, seed, reset)
"""

from __future__ import annotations
