"""`GET /v1/tasks/{task_id}`: the async work records the ingestion pipeline writes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header

from stratus.api.auth import require
from stratus.api.namespace_header import HEADER
from stratus.api.routers import error_responses
from stratus.container import Container, get_container
from stratus.domain.identifiers import check_identifier
from stratus.errors import NotFoundError
from stratus.models.managed_content import TaskModel
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=["tasks"])


@router.get(
    "/v1/tasks/{task_id}",
    operation_id="get_task",
    response_model=TaskModel,
    summary="Get a task's status, inputs, outputs and error (X-Namespace optional)",
    responses=error_responses(400, 404),
)
def get_task(
    task_id: str,
    principal: Principal = Depends(require("read")),
    x_namespace: str | None = Header(
        default=None,
        alias=HEADER,
        max_length=1024,
        description="Optional: when given, the task must belong to this namespace (id or name)",
    ),
    container: Container = Depends(get_container),
) -> TaskModel:
    # Tasks are keyed by id alone and found within the caller's organization (the SDK's TasksApi
    # never sends X-Namespace); another organization's task, or another namespace's when the
    # header names one, is not found. Both identifiers are checked before anything is read.
    check_identifier(task_id, "task_id")
    namespace_id: str | None = None
    if x_namespace is not None and x_namespace.strip():
        namespace = resolve_namespace(container.metadata, principal.org_id, x_namespace.strip(), field=HEADER)
        namespace_id = namespace.namespace_id
    task = container.metadata.get_task(task_id)
    if task is None or task.org_id != principal.org_id:
        raise NotFoundError.of("task", task_id)
    if namespace_id is not None and task.namespace_id != namespace_id:
        raise NotFoundError.of("task", task_id)
    return task.answer()
