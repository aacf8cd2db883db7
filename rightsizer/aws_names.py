"""The shapes of AWS names that rightsizer checks before it uses them: one place, so that the
settings accept exactly what the Athena DDL and query take (use them with ``fullmatch``).

Where a value goes into SQL that cannot take a parameter (Athena DDL), these patterns are what
keeps it safe: none of them admits a quote or a space.
"""

from __future__ import annotations

import re

ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
# Bucket names as S3 creates them today (3-63 lowercase letters, digits, dots and hyphens).
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# A key prefix before AWSLogs/: empty, or folders each ending in "/".
KEY_PREFIX = re.compile(r"([A-Za-z0-9!_.*()-]+/)*")
# Role names hold [\w+=,.@-] and paths any printable ASCII: never a space or a line break (the
# Athena query's principals parameter is one ARN a line).
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\x21-\x7e]+")
# RoleName: 1 to 64 of letters, digits and _+=,.@- ; unique in its account ignoring case
# (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html). `.` and `..` fit.
ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
ROLE_NAME_RULE = "1 to 64 letters, digits or _+=,.@-"
# A task definition family: up to 255 letters, digits, underscores and hyphens
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html).
TASK_FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")
# athena://DATABASE.TABLE, Glue identifiers of letters, digits and underscores.
ATHENA_TABLE_URI = re.compile(r"athena://([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/?")


def arn_account(arn: str) -> str:
    """The account field of an ARN (``arn:PARTITION:SERVICE:REGION:ACCOUNT:...``); "" when the
    text has no such field."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) > 5 else ""


def role_name(arn: str) -> str:
    """The role name of a role ARN: the text after its last ``/`` (a path precedes it)."""
    return arn.rsplit("/", 1)[-1]


def role_key(arn: str) -> tuple[str, str]:
    """(account, role name): the same for every spelling of one role's ARN, with or without its
    path (a role name is unique in its account whatever the path)."""
    return arn_account(arn), role_name(arn)


# What a folder name may hold as it is: every other character (a leading dot, and anything a
# name that escaped validation carries) is written %XX, which no role name contains.
_FOLDER_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,@-.")


def role_folder_name(name: str) -> str:
    """The folder a role's files go in: the name itself when it is a plain folder name, else
    an encoding of it that is never ``.``, ``..``, hidden, or holds a separator (``..`` is
    ``%2E%2E``). Distinct names give distinct folders; the true name is inside the files."""
    encoded = []
    leading = True
    for char in name:
        if (char == "." and leading) or char not in _FOLDER_SAFE:
            encoded.append("".join(f"%{b:02X}" for b in char.encode("utf-8")))
        else:
            encoded.append(char)
            leading = False
    return "".join(encoded) or "%00"
