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
# athena://DATABASE.TABLE, Glue identifiers of letters, digits and underscores.
ATHENA_TABLE_URI = re.compile(r"athena://([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/?")
