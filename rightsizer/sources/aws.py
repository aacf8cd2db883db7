"""How to reach AWS APIs other than S3 (IAM, ECS, CloudTrail): one options record, one client maker.

``AwsOptions`` is frozen and pickles. boto3 is imported inside ``make_aws_client`` so that importing
this module stays cheap. Retries use botocore's standard mode; ``max_attempts`` is the number of
retries after the first request (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
``endpoint_url`` points every client at one endpoint: moto's server in the tests, a VPC endpoint
or a proxy in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rightsizer.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["AwsOptions", "describe_aws_error", "make_aws_client"]


@dataclass(frozen=True, slots=True)
class AwsOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ConfigError(f"AWS max_attempts must not be negative, not {self.max_attempts}")


def make_aws_client(service: str, options: AwsOptions) -> BaseClient:
    """A boto3 client for ``service`` with standard retries; an unknown profile is a ConfigError."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile {options.profile!r} not found") from exc
    config = Config(retries={"mode": "standard", "max_attempts": options.max_attempts})
    return session.client(service, endpoint_url=options.endpoint_url, config=config)


def describe_aws_error(exc: Exception) -> str:
    """``"AccessDenied: User ... is not authorized"`` for a ClientError, the text otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def source_error(what: str, exc: Exception) -> SourceError:
    """A SourceError naming the AWS source and the reason, for ``raise ... from exc``."""
    return SourceError(f"{what}: {describe_aws_error(exc)}")
