-- Schema version 4: what CloudTrail log file integrity validation needs
-- (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html).
-- The SHA-256 of every log file read, of its uncompressed content, as digests record it; and
-- the digest files themselves, which are not events.

CREATE TABLE log_file_hashes (
    uri          VARCHAR PRIMARY KEY,  -- the file or s3:// object read
    sha256       VARCHAR NOT NULL,     -- hex, of the uncompressed content
    read_at      TIMESTAMP NOT NULL
);

CREATE TABLE digest_files (
    uri                     VARCHAR PRIMARY KEY,  -- the file or s3:// object read
    fingerprint             VARCHAR NOT NULL,     -- size/mtime or ETag, as the ledger's
    account                 VARCHAR,
    digest_key              VARCHAR NOT NULL,     -- digestS3Object
    digest_bucket           VARCHAR,              -- digestS3Bucket
    start_time              TIMESTAMP,
    end_time                TIMESTAMP,
    end_time_text           VARCHAR,              -- digestEndTime as written: it is signed
    key_fingerprint         VARCHAR,              -- digestPublicKeyFingerprint
    signature_algorithm     VARCHAR,
    signature               VARCHAR,              -- x-amz-meta-signature (S3 only), hex
    content_sha256          VARCHAR NOT NULL,     -- hex, of the uncompressed digest
    previous_key            VARCHAR,              -- previousDigestS3Object
    previous_bucket         VARCHAR,
    previous_sha256         VARCHAR,              -- previousDigestHashValue
    previous_signature      VARCHAR,              -- previousDigestSignature, hex
    log_files               JSON NOT NULL,        -- [{"key", "bucket", "sha256"}]
    problem                 VARCHAR,              -- why it could not be read as a digest
    read_at                 TIMESTAMP NOT NULL
);
