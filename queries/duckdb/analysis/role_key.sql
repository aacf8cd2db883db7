-- A role's (account, name) as rightsizer/aws_names.role_key reads them from its ARN: the
-- account field and the text after the last "/", the same for every spelling of one role (with
-- and without its path). usage.sql keeps the calls of some roles by it and usage_by_role orders
-- the rows by it (store/reading.py); tests/test_usage_by_role.py holds it to role_key for any
-- text. The store creates it on every connection (store/database.py).
CREATE OR REPLACE TEMP MACRO role_account(principal) AS
    CASE WHEN len(string_split(principal, ':')) > 5 THEN string_split(principal, ':')[5] ELSE '' END;

CREATE OR REPLACE TEMP MACRO role_name(principal) AS regexp_extract(principal, '[^/]*$');

-- "account/name": one role's key as one text (a role name holds no "/").
CREATE OR REPLACE TEMP MACRO role_key_text(principal) AS
    role_account(principal) || '/' || role_name(principal);
