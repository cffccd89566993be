-- Lock-taking: a new column filled by a volatile default rewrites the whole table under
-- ACCESS EXCLUSIVE, and nothing bounds the wait for that lock (no lock_timeout).
alter table cosims.fsc_rlie_jobs add column retry_token uuid default gen_random_uuid();
