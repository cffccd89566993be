-- A patch that passes on an empty schema and fails on production data: many jobs share a
-- last status, so the constraint cannot be created.
alter table cosims.parent_jobs add constraint parent_jobs_one_per_status unique (last_status_id);
