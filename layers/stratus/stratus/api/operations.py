"""The operation registry: operation name → the router holding only its routes.

Each name is a folder `functions/<name>/` with one Lambda function in `template.yaml`; the
drift test keeps this table, the functions, the template and the OpenAPI file in step.
Scheduled (non-HTTP) functions, like `functions/auto_create_indexes/`, are not operations."""

from __future__ import annotations

from fastapi import APIRouter

from stratus.api.routers import (
    buckets,
    collections,
    documents,
    health,
    inference,
    namespaces,
    objects,
    payload_indexes,
    promotion,
    search,
    tasks,
)

OPERATIONS: dict[str, APIRouter] = {
    "health": health.health,
    "create_namespace": namespaces.create_namespace,
    "create_standalone_namespace": namespaces.create_standalone_namespace,
    "list_namespaces": namespaces.list_namespaces,
    "get_namespace": namespaces.get_namespace,
    "update_namespace": namespaces.update_namespace,
    "delete_namespace": namespaces.delete_namespace,
    "promote_namespace": promotion.promote_namespace,
    "create_payload_index": payload_indexes.create_payload_index,
    "get_filter_usage": payload_indexes.get_filter_usage,
    "list_inference_services": inference.list_inference_services,
    "upsert_documents": documents.upsert_documents,
    "list_documents": documents.list_documents,
    "get_document": documents.get_document,
    "delete_document": documents.delete_document,
    "search": search.search,
    "list_feature_extractors": collections.list_feature_extractors,
    "create_bucket": buckets.create_bucket,
    "list_buckets": buckets.list_buckets,
    "get_bucket": buckets.get_bucket,
    "delete_bucket": buckets.delete_bucket,
    "create_object": objects.create_object,
    "list_objects": objects.list_objects,
    "get_object": objects.get_object,
    "create_upload": objects.create_upload,
    "create_collection": collections.create_collection,
    "list_collections": collections.list_collections,
    "get_collection": collections.get_collection,
    "delete_collection": collections.delete_collection,
    "get_task": tasks.get_task,
}
