"""What a started stack tells its user: the info file's fields and the banner."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from stratus_local.resources import DATA_BUCKET, DEV_KEY_PERMISSIONS

# The first request in the banner's curl line: the seed's standalone namespace.
SEED_NAMESPACE_BODY = {
    "namespace_id": "legal-docs",
    "mode": "standalone",
    "vector_configs": [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}],
}


@dataclass(frozen=True)
class StackInfo:
    """What a client needs to use the running stack; written as JSON to the info file."""

    api_url: str
    docs_url: str
    aws_endpoint_url: str
    api_key: str
    org_id: str
    table_name: str
    region: str
    data_dir: str
    lancedb_uri: str
    pid: int
    data_bucket: str = DATA_BUCKET
    ingest_queue_url: str = ""
    dead_letter_queue_url: str = ""
    backfill_queue_url: str = ""


def client_host(host: str) -> str:
    """The address a client on this machine uses for a bind address."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def banner(info: StackInfo, key_file: Path | None, info_file: Path) -> str:
    curl = " ".join(
        [
            "curl -s -X POST",
            shlex.quote(f"{info.api_url}/v1/namespaces/standalone"),
            "-H",
            shlex.quote(f"Authorization: Bearer {info.api_key}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(json.dumps(SEED_NAMESPACE_BODY)),
        ]
    )
    key_note = f" (also in {key_file})" if key_file else ""
    lines = [
        "",
        "Stratus local stack",
        f"  API           {info.api_url}",
        f"  Docs          {info.docs_url}",
        f"  API key       {info.api_key}{key_note}",
        f"                org '{info.org_id}', permissions {', '.join(DEV_KEY_PERMISSIONS)}",
        f"  AWS endpoint  {info.aws_endpoint_url}  (moto; credentials 'testing', region {info.region})",
        f"  Data bucket   s3://{info.data_bucket}  (a new object under a bucket's s3_uri is ingested)",
        f"                aws --endpoint-url {info.aws_endpoint_url} s3 cp notes.txt "
        f"s3://{info.data_bucket}/<storage_key>/<bucket_id>/   (the bucket's s3_uri)",
        f"  Ingest queue  {info.ingest_queue_url}  (failures: {info.dead_letter_queue_url})",
        f"  Backfills     {info.backfill_queue_url}  (promotion sources, model migrations)",
        f"  Info file     {info_file}",
        "",
        f"  Data is TEMPORARY: it lives in memory and in {info.data_dir}, and is wiped at every start.",
        "",
        "  Try it:",
        f"  {curl}",
        "",
        "  Ctrl-C stops the stack.",
        "",
    ]
    return "\n".join(lines)
