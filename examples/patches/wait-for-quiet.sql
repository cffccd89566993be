-- Looping: "wait until every job is done, then change the cap". On a clone nothing moves
-- the jobs on, so it waits for ever; the statement limit ends it at its line.
do $$
begin
  while exists (select 1 from cosims.parent_jobs where last_status_id <> 12) loop
    perform pg_sleep(0.1);
  end loop;
end
$$;
update cosims.system_parameters set max_number_of_worker_instances = 150;
