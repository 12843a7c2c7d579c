"""`GET /v1/tasks/{task_id}`: the async work records the ingestion pipeline writes."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import error_responses
from stratus.container import Container, get_container
from stratus.domain.identifiers import check_identifier
from stratus.errors import NotFoundError
from stratus.models.managed_content import TaskModel

router = APIRouter(tags=["tasks"])


@router.get(
    "/v1/tasks/{task_id}",
    operation_id="get_task",
    response_model=TaskModel,
    summary="Get a task's status, inputs, outputs and error",
    responses=error_responses(400, 404),
)
def get_task(
    task_id: str,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> TaskModel:
    task = container.metadata.get_task(check_identifier(task_id, "task_id"))
    # Tasks are keyed by id alone; another organization's (or namespace's) task is not found.
    if task is None or task.org_id != scope.org_id or task.namespace_id != scope.namespace.namespace_id:
        raise NotFoundError.of("task", task_id)
    return TaskModel.model_validate(task.model_dump(include=set(TaskModel.model_fields)))
