-- Stage one typed spool (type_spool.sql's rows, written by a reader: rightsizer/store/staging.py)
-- in `pending`, under its number in the transaction. Parameters: $typed (its path), $spool_no.
INSERT INTO pending BY NAME
SELECT $spool_no AS spool, * FROM read_parquet($typed);
