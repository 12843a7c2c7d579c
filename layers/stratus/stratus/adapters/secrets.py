"""API keys for inference providers: from the environment, else from AWS Secrets Manager.

The returned provider is called on every embedding call, so it must be cheap: an environment
value is returned as is, and a secret is cached by Powertools Parameters for `max_age` seconds
(a rotated key is picked up within that time without a cold start). Nothing here logs a key,
and no error carries one, nor the secret's ARN (it names the account and the secret): the ARN is
logged for operators, the client reads only which service is unavailable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from stratus.errors import InferenceServiceUnavailableError

# Seconds Powertools keeps a fetched secret before asking Secrets Manager again.
SECRET_MAX_AGE_SECONDS = 300

# A JSON secret (the console's key/value form) may hold the key under one of these fields.
_JSON_KEY_FIELDS = ("api_key", "apiKey", "OPENAI_API_KEY", "key")

# The settings an operator sets (stratus.settings, prefix STRATUS_); named in the error.
DEFAULT_ENV_NAME = "STRATUS_OPENAI_API_KEY"
DEFAULT_SECRET_SETTING_NAME = "STRATUS_OPENAI_API_KEY_SECRET_ARN"

SecretFetcher = Callable[[str, int], str]

logger = logging.getLogger(__name__)


def api_key_from(
    env_value: str | None,
    secret_arn: str | None,
    *,
    service: str = "openai",
    env_name: str = DEFAULT_ENV_NAME,
    secret_setting_name: str = DEFAULT_SECRET_SETTING_NAME,
    fetch_secret: SecretFetcher | None = None,
    max_age_seconds: int = SECRET_MAX_AGE_SECONDS,
) -> Callable[[], str]:
    """A provider of the API key for `service`.

    `env_value` wins when set (local stack, tests); otherwise `secret_arn` is read from Secrets
    Manager. `env_name` / `secret_setting_name` are only used in the error that says what to
    configure. Nothing is fetched here: a missing or unreachable key fails the embedding call
    (a retryable 503), not the container start."""
    if env_value and env_value.strip():
        key = env_value.strip()
        return lambda: key
    if secret_arn:
        fetch = fetch_secret or _powertools_get_secret
        return lambda: _key_from_secret(fetch, secret_arn, service, max_age_seconds)
    return lambda: _raise_missing(service, env_name, secret_setting_name)


def _raise_missing(service: str, env_name: str, secret_setting_name: str) -> str:
    raise InferenceServiceUnavailableError(
        f"inference service '{service}' is unavailable: no API key is configured; "
        f"set {env_name} or {secret_setting_name}",
        {"service": service, "missing_setting": [env_name, secret_setting_name]},
    )


def _key_from_secret(fetch: SecretFetcher, secret_arn: str, service: str, max_age: int) -> str:
    try:
        raw = fetch(secret_arn, max_age)
    except InferenceServiceUnavailableError:
        raise
    except Exception as error:
        # Only the exception type: provider messages are not ours to vouch for.
        reason = type(error).__name__
        _log_unusable(service, secret_arn, reason)
        raise InferenceServiceUnavailableError(
            f"inference service '{service}' is unavailable: its API key secret could not be read ({reason})",
            {"service": service},
        ) from None
    key = _key_in(raw)
    if not key:
        _log_unusable(service, secret_arn, "empty")
        raise InferenceServiceUnavailableError(
            f"inference service '{service}' is unavailable: its API key secret is empty "
            f"or has no '{_JSON_KEY_FIELDS[0]}' field",
            {"service": service},
        )
    return key


def _log_unusable(service: str, secret_arn: str, reason: str) -> None:
    logger.warning(
        "API key secret unusable: service=%s secret_arn=%s reason=%s",
        service,
        secret_arn,
        reason,
        extra={"service": service, "secret_arn": secret_arn, "reason": reason},
    )


def _key_in(raw: str) -> str:
    """The key in a secret string: the whole string, or a field of a JSON object."""
    text = raw.strip()
    if not text.startswith("{"):
        return text
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if not isinstance(document, dict):
        return ""
    for field in _JSON_KEY_FIELDS:
        value = document.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    # A one-field object is unambiguous whatever the field is called.
    values = [value for value in document.values() if isinstance(value, str)]
    return values[0].strip() if len(values) == 1 else ""


def _powertools_get_secret(secret_arn: str, max_age: int) -> str:
    # Imported here: Powertools Parameters builds a boto3 client, which no cold start should pay
    # for when the key comes from the environment.
    from aws_lambda_powertools.utilities.parameters import get_secret

    value = get_secret(secret_arn, max_age=max_age)
    return value if isinstance(value, str) else str(value)
