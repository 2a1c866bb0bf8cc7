"""A local Ionworks-compatible API for trying ionworks-apply without an Ionworks account.

FastAPI + uvicorn + one sqlite file. It imports nothing from the reconciler core and the core
imports nothing from it: the only link is HTTP, exactly as with the real API.

Modules::

    settings.py     SandboxSettings and Behaviour, the switches for what the contract leaves
                    open (stdlib only, so the CLI can import it cheaply)
    server.py       SandboxServer: uvicorn in a background thread
    app.py          create_app: routers, error handlers
    gateway.py      the ASGI layer in front of FastAPI: auth, journal, faults, headers
    bodies.py       request bodies: size caps, streaming gunzip, JSON inspection
    faults.py       fault injector and request journal
    db.py           sqlite connection, schema and migration, tenant, monotonic clock
    like.py         PostgREST like/ilike without catastrophic backtracking
    query.py        filters, ordering (stable or shuffled) and paging for list endpoints
    errors.py       HTTP error values the routes raise
    validation.py   Quantity and ratings rules, dates
    writes.py       how one write treats nested objects: replace or merge, nulls, raw
    models.py       request bodies (pydantic)
    specs.py        cell specifications
    materials.py    materials (three upsert modes) and components
    cells.py        instances, batches, measurements
    seeding.py      bulk data for demos and benchmarks
    api_*.py        routers
    cli.py          click group `sandbox` (serve, seed, reset)
"""

from __future__ import annotations
