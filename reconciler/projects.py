"""The project a manifests directory reconciles, as the API knows it.

Looked up once per directory before anything is planned (and before an export), so a mistyped
id is one clear error instead of a plan that creates every spec in a project nobody can see.
"""

from __future__ import annotations

from reconciler.api import IonworksClient
from reconciler.errors import ConfigError, NotFoundError

#: Longest project name shown; the API's answer is not ours to trust with a screenful.
MAX_PROJECT_NAME = 200


async def project_name(client: IonworksClient, project_id: str) -> str | None:
    """The project's name, or ConfigError when the API does not know the project (404: it
    does not exist or is not visible). The answer is untrusted: a name that is missing, empty
    or not a string is simply not shown."""
    try:
        record = await client.get_project(project_id)
    except NotFoundError:
        raise ConfigError(
            f"project {project_id} is unknown to the Ionworks API, or not visible to this "
            "credential: check `project_id` in ionworks-apply.yaml (or --project / "
            "IONWORKS_PROJECT_ID) and the organization (--org)"
        ) from None
    name = record.get("name")
    return name[:MAX_PROJECT_NAME] if isinstance(name, str) and name.strip() else None
