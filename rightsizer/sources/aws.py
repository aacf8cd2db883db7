"""How to reach AWS APIs other than S3 (IAM, ECS, CloudTrail): one options record, one client maker.

``AwsOptions`` is frozen and pickles. boto3 is imported inside ``make_aws_client`` so that importing
this module stays cheap. Retries use botocore's standard mode; ``max_attempts`` is the number of
retries after the first request (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
``endpoint_url`` points every client at one endpoint: moto's server in the tests, a VPC endpoint
or a proxy in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rightsizer.errors import ConfigError, RightsizerError, SourceError

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["AwsOptions", "Credentials", "describe_aws_error", "make_aws_client", "source_error"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """Temporary credentials of a role assumed in a member account (``sts:AssumeRole``)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AwsOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5
    # Set for a member account read through an assumed role; None: the profile's credentials.
    credentials: Credentials | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ConfigError(f"AWS max_attempts must not be negative, not {self.max_attempts}")


def make_aws_client(service: str, options: AwsOptions) -> BaseClient:
    """A boto3 client for ``service`` with standard retries; an unknown profile is a ConfigError."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        if options.credentials is not None:
            session = boto3.session.Session(
                aws_access_key_id=options.credentials.access_key_id,
                aws_secret_access_key=options.credentials.secret_access_key,
                aws_session_token=options.credentials.session_token,
                region_name=options.region or _profile_and_region(options)[1])
        else:
            session = boto3.session.Session(profile_name=options.profile,
                                            region_name=options.region)
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


def source_error(what: str, exc: Exception,
                 options: AwsOptions | None = None) -> RightsizerError:
    """The error to raise for an AWS call that failed (``raise ... from exc``): a SourceError
    naming the source and AWS's reason (exit 4), or a ConfigError with a hint when the call never
    left this machine for want of credentials, a profile or a region (exit 2: the command, not
    the data, must change)."""
    from botocore.exceptions import (
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound
                  | NoRegionError):
        options = options or AwsOptions()
        profile, region = _profile_and_region(options)
        problem = ("no AWS region" if isinstance(exc, NoRegionError)
                   else f"no AWS credentials ({exc})")
        return ConfigError(
            f"{what}: {problem}; tried profile {profile}, region {region or 'none'}. Give "
            "--profile (or set AWS_PROFILE) and --region (or AWS_REGION), or set credentials "
            "with `aws configure` or `aws sso login`")
    return SourceError(f"{what}: {describe_aws_error(exc)}")


def _profile_and_region(options: AwsOptions) -> tuple[str, str | None]:
    """The profile and region boto3 resolves for these options (environment and config)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(profile_name=options.profile,
                                        region_name=options.region)
        return session.profile_name or "default", session.region_name
    except BotoCoreError:
        return options.profile or "default", options.region
