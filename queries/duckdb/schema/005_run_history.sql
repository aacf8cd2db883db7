-- Schema version 5: what each run saw, per role (grants, use, proposal, refusals, findings, the
-- policies in force), so that the next run can say what changed and whether a proposal was
-- applied (rightsizer/analysis/history.py). One JSON record per run, with the log integrity
-- check's result over the files it used: counts per status, every file that failed, and the
-- files merely not covered counted per reason (IntegrityReport.record_json; runs recorded
-- by 0.2.0 and before list every file not valid).

CREATE TABLE run_history (
    run_id       VARCHAR PRIMARY KEY,
    as_of        DATE NOT NULL,          -- the run's day (UTC)
    finished_at  TIMESTAMP NOT NULL,
    roles        JSON NOT NULL,          -- [RoleRecord.as_json()]
    integrity    JSON                    -- IntegrityReport.record_json(); null: no file was used
);
