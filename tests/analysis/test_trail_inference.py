"""Trail coverage inferred from the logs (issue 11, case 6): what data events the logs hold says
what the trails record, scoped to the resources and read/write classes seen; never more."""

from __future__ import annotations

from rightsizer.analysis.trail_inference import (
    contradictions,
    infer_trail_settings,
    settings_from_trail_events,
)
from rightsizer.iam.observability import observability, settings_from_config
from rightsizer.store.records import DataEventSeen, TrailEvent

BUCKET = "arn:aws:s3:::acme-data/"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/orders"


def seen(kind: str, scope: str, read_only: bool, events: int = 5) -> DataEventSeen:
    return DataEventSeen(resource_type=kind, scope=scope, read_only=read_only, events=events)


def test_data_events_in_the_logs_make_their_kind_observable_where_seen() -> None:
    trail = infer_trail_settings([seen("AWS::S3::Object", BUCKET, True),
                                  seen("AWS::S3::Object", BUCKET, False),
                                  seen("AWS::DynamoDB::Table", TABLE, True)], management=True)
    assert trail.source.startswith("inferred from the logs")
    assert trail.data_resource_types == ("AWS::DynamoDB::Table", "AWS::S3::Object")
    # On the bucket seen, both classes: an unused DeleteObject there is evidence of non-use.
    assert observability("s3:DeleteObject", [trail], resource_arns=[BUCKET + "*"]).observable
    assert observability("s3:GetObject", [trail], resource_arns=[BUCKET + "k"]).observable
    # Anywhere else, or on every bucket, nothing is known: not observable, so kept.
    assert not observability("s3:DeleteObject", [trail],
                             resource_arns=["arn:aws:s3:::other/*"]).observable
    assert not observability("s3:DeleteObject", [trail], resource_arns=["*"]).observable
    # Only reads were seen on the table: a write selector is not assumed.
    assert observability("dynamodb:GetItem", [trail], resource_arns=[TABLE]).observable
    assert not observability("dynamodb:PutItem", [trail], resource_arns=[TABLE]).observable
    # A kind never seen stays unobservable, as with the default trail.
    assert not observability("sqs:SendMessage", [trail]).observable
    assert any("inferred" in n for n in trail.notes)


def test_no_data_events_infers_the_default_trail() -> None:
    trail = infer_trail_settings([], management=True)
    assert trail.data_selectors == () and trail.management_read and trail.management_write


def test_selectors_that_exclude_data_events_the_logs_hold_are_a_contradiction() -> None:
    given = settings_from_config({"name": "org-trail"})  # management only
    found = contradictions([given], [seen("AWS::S3::Object", BUCKET, False, 12)])
    assert len(found) == 1
    assert "AWS::S3::Object" in found[0] and "org-trail" in found[0] and "12" in found[0]
    with_s3 = settings_from_config({"name": "org-trail", "data_events": ["AWS::S3::Object"]})
    assert contradictions([with_s3], [seen("AWS::S3::Object", BUCKET, False)]) == []


def test_put_event_selectors_in_the_logs_are_the_trails_settings() -> None:
    events = [
        TrailEvent(time="2026-10-01T10:00:00Z", name="PutEventSelectors", trail="org-trail",
                   request={"trailName": "org-trail", "eventSelectors": [{
                       "readWriteType": "All", "includeManagementEvents": True,
                       "dataResources": [{"type": "AWS::S3::Object",
                                          "values": ["arn:aws:s3:::acme-data/"]}]}]}),
        TrailEvent(time="2026-10-20T08:00:00Z", name="StopLogging", trail="org-trail",
                   request={"name": "org-trail"}),
    ]
    trails, changes = settings_from_trail_events(events)
    (trail,) = trails
    assert trail.name == "org-trail" and "PutEventSelectors" in trail.source
    assert trail.data_resource_types == ("AWS::S3::Object",)
    assert [c["event"] for c in changes] == ["PutEventSelectors", "StopLogging"]
    assert "stopped" in changes[1]["meaning"]
