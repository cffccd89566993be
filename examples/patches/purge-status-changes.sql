-- Destructive: "purge the status history to save space". It forgets that the dashboard and
-- the monitor read job_status_changes, and it has no WHERE: every row goes.
delete from cosims.job_status_changes;
