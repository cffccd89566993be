-- The `cosims` schema of the HR-S&I production database, written for hrsi from the domain
-- facts (shared/domain/database.md §1-§5). It reproduces the behaviour that operations depend
-- on, including the quirks a rehearsal must expose: the O(history) status lookup of the
-- transition trigger, NULLS FIRST orderings, the broken `job_*_messages` functions, the
-- unqualified table in `messages_with_body`, the missing selectors.
--
-- Loaded by psql or by hrsi's own script loader, as the `postgres` superuser, into the
-- database that holds production data (`postgres` in production).

-- Roles used by PostgREST (§5.1). Roles are cluster-wide: create them only when missing so
-- that the schema can be loaded into several databases of one cluster.
do $roles$
begin
    if not exists (select 1 from pg_roles where rolname = 'web_anonymous') then
        create role web_anonymous nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        -- A placeholder, as in production: PostgREST's config carries the same string.
        create role authenticator noinherit login password 'placeholder-not-a-secret';
    end if;
end
$roles$;
grant web_anonymous to authenticator;

create schema cosims;
-- Default search_path: the extension lands in `public` (§1), so it survives a schema drop.
create extension if not exists "uuid-ossp";

-- §1.1 Lookup tables: UNIQUE, no primary key.
create table cosims.log_levels (
    id smallint not null unique,
    name text not null unique
);
insert into cosims.log_levels (id, name) values
    (50, 'CRITICAL'), (40, 'ERROR'), (30, 'WARNING'), (20, 'INFO'), (10, 'DEBUG');

-- Must match the Python enum JobStatus (and hrsi_sim::status).
create table cosims.job_status (
    id smallint not null unique,
    name text not null unique
);
insert into cosims.job_status (id, name) values
    (1, 'initialized'), (2, 'configured'), (3, 'ready'), (4, 'queued'),
    (5, 'started'), (6, 'pre_processing'), (7, 'processing'), (8, 'post_processing'),
    (9, 'processed'), (10, 'start_publication'), (11, 'published'), (12, 'done'),
    (13, 'internal_error'), (14, 'external_error'), (15, 'error_checked'), (16, 'cancelled');

-- §1.2 The common part of every job, service jobs included.
create table cosims.parent_jobs (
    id bigserial primary key,
    unique_id uuid default uuid_generate_v4(),
    name text,
    priority text check (priority in ('nrt', 'delayed', 'reprocessing')),
    nomad_id text,
    tile_id text not null,
    next_log_level smallint not null references cosims.log_levels (id),
    next_log_file_path text,
    print_to_orch boolean,
    -- Denormalised by the status trigger; deliberately no foreign keys (§1.2).
    last_status_id smallint,
    last_status_change_id bigint,
    last_status_change_date timestamp,
    last_status_error_subtype text,
    error_raised boolean default false,
    si_processing_image text
);
create index parent_jobs_next_log_level on cosims.parent_jobs (next_log_level);
create index parent_jobs_last_status_id on cosims.parent_jobs (last_status_id);
create index parent_jobs_last_status_change_id on cosims.parent_jobs (last_status_change_id);
-- For sorting the job list on the dashboard.
create index parent_jobs_tile_id on cosims.parent_jobs (tile_id);
create index parent_jobs_last_status_change_date on cosims.parent_jobs (last_status_change_date);

-- §1.3 Child job tables: 1:1 with parent_jobs, cascade on delete.
create table cosims.fsc_rlie_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade,
    nrt boolean,
    l1c_id text not null,
    l1c_id_list text,
    l1c_reference_job boolean default true,
    l1c_cloud_cover decimal not null,
    l1c_snow_cover decimal not null,
    l1c_path text not null,
    l1c_path_list text,
    l2a_path_in text,
    l2a_path_out text,
    save_full_l2a boolean default false,
    job_id_for_last_valid_l2a decimal,
    l2a_status text check (l2a_status in ('pending', 'generated', 'generation_aborted', 'deleted')),
    n_jobs_run_since_last_init decimal,
    n_l2a_produced_since_last_init decimal,
    dtm_path text,
    fsc_infos json,
    rlie_infos json,
    fsc_path text,
    rlie_path text,
    measurement_date timestamp,
    l1c_sensing_time timestamp,
    l1c_esa_creation_date timestamp,
    l1c_esa_publication_date timestamp,
    l1c_dias_publication_date timestamp,
    fsc_completion_date timestamp,
    rlie_completion_date timestamp,
    fsc_json_publication_date timestamp,
    rlie_json_publication_date timestamp,
    maja_mode text check (maja_mode in ('nominal', 'backward', 'init')),
    maja_threads smallint default 1,
    maja_other_params jsonb,
    maja_return_code smallint,
    backward_reprocessing_run boolean,
    -- The string 'None', as the Python client omits None values and the default applies.
    reprocessing_context text default 'None',
    unique (l1c_id, nrt, reprocessing_context)
);
create index fsc_rlie_jobs_l1c_esa_publication_date on cosims.fsc_rlie_jobs (l1c_esa_publication_date);
create index fsc_rlie_jobs_l1c_dias_publication_date on cosims.fsc_rlie_jobs (l1c_dias_publication_date);
create index fsc_rlie_jobs_maja_mode on cosims.fsc_rlie_jobs (maja_mode);

create table cosims.sws_wds_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade,
    nrt boolean,
    wds_infos json,
    wds_path text,
    wds_completion_date timestamp,
    wds_json_publication_date timestamp,
    sws_infos json,
    sws_path text,
    sws_completion_date timestamp,
    sws_json_publication_date timestamp,
    measurement_date timestamp,
    s1_id_list text,
    s1_path_list text,
    s1_esa_publication_latest_date timestamp,
    s1_dias_publication_latest_date timestamp,
    assembly_id text,
    assembly_master_job_id bigint,
    assembly_status text check (assembly_status in ('pending', 'generated', 'empty', 'generation_aborted', 'deleted')),
    assembly_params json,
    assembly_path text,
    assembly_return_code int,
    assembly_reference_job boolean,
    fsc_id_list text,
    fsc_path_list text,
    fsc_creation_latest_date timestamp,
    fsc_publication_latest_date timestamp,
    reprocessing_context text default 'None',
    unique (s1_id_list, fsc_id_list, nrt, reprocessing_context)
);

create table cosims.gfsc_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade,
    nrt boolean,
    missions text,
    triggering_product_id text,
    triggering_product_publication_date timestamp,
    fsc_id_list text,
    fsc_publication_date_list text,
    fsc_measurement_date_list text,
    wds_id_list text,
    wds_publication_date_list text,
    wds_measurement_date_list text,
    sws_id_list text,
    sws_publication_date_list text,
    sws_measurement_date_list text,
    gfsc_id_list text,
    obsolete_product_id_list text,
    gfsc_infos json,
    gfsc_id text,
    gfsc_path text,
    sensing_start_date timestamp,
    sensing_end_date timestamp,
    completion_date timestamp,
    product_date timestamp,
    curation_timestamp timestamp,
    gfsc_json_publication_date timestamp,
    aggregation_timespan smallint,
    overriding_job_id text,
    reprocessing_context text default 'None',
    unique (gfsc_id, nrt, reprocessing_context)
);

create table cosims.rlies1_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade,
    s1grd_id text,
    product_path text,
    measurement_date_start timestamp,
    measurement_date_end timestamp,
    s1grd_dias_publication_date timestamp,
    s1grd_esa_publication_date timestamp,
    s2tile_ids_json text,
    rlies1_products_completion_date timestamp,
    rlies1_product_paths_json text,
    rlies1_product_json_submitted_json text,
    rlies1_products_publication_date timestamp,
    -- No default: Python sets 'nrt' at creation.
    reprocessing_context text,
    unique (s1grd_id, measurement_date_start, s1grd_dias_publication_date, reprocessing_context)
);

create table cosims.rlies1s2_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade,
    process_date timestamp,
    tile_id_dup text,
    rlies1_product_paths_json text,
    rlies1_publication_latest_date timestamp,
    rlies2_product_paths_json text,
    rlies2_publication_latest_date timestamp,
    measurement_date_rlies1s2 timestamp,
    rlies1s2_completion_date timestamp,
    rlies1s2_path text,
    rlies1s2_json_submitted_json text,
    publication_date_rlies1s2 timestamp,
    reprocessing_context text,
    -- reprocessing_context is not part of the key (§1.3).
    unique (process_date, tile_id_dup)
);

-- Legacy: 32-bit keys referencing a bigint id (§7.17).
create table cosims.psa_arlie_jobs (
    id serial primary key,
    fk_parent_job_id int not null unique references cosims.parent_jobs (id) on delete cascade,
    reprocessing boolean,
    request_id int,
    product_type text check (product_type in ('PSA-WGS84', 'PSA-LAEA', 'ARLIE')),
    hydro_year timestamp,
    month timestamp,
    first_product_measurement_date timestamp,
    last_product_measurement_date timestamp,
    result_completion_date timestamp,
    result_json_publication_date timestamp,
    input_paths text,
    result_infos json,
    result_path text
);

create table cosims.test_jobs (
    id serial primary key,
    fk_parent_job_id int not null unique references cosims.parent_jobs (id) on delete cascade,
    measurement_date timestamp,
    completion_date timestamp
);

-- The orchestrator services registered as jobs.
create table cosims.other_jobs (
    id bigserial primary key,
    fk_parent_job_id bigint not null unique references cosims.parent_jobs (id) on delete cascade
);

-- §1.4 Execution logging (obsolete, still present).
create table cosims.execution_info (
    id bigserial primary key,
    fk_parent_job_id bigint not null references cosims.parent_jobs (id) on delete cascade,
    min_log_level smallint not null references cosims.log_levels (id),
    log_file_path text
);
create index execution_info_fk_parent_job_id on cosims.execution_info (fk_parent_job_id);
create index execution_info_min_log_level on cosims.execution_info (min_log_level);

create table cosims.execution_messages (
    id bigserial primary key,
    body text not null
);

create table cosims.execution_info_to_messages (
    id bigserial primary key,
    fk_execution_info_id bigint references cosims.execution_info (id) on delete cascade,
    fk_execution_message_id bigint references cosims.execution_messages (id) on delete cascade,
    -- Duplicated "for PostgREST" embedding.
    fk_parent_job_id bigint references cosims.parent_jobs (id) on delete cascade,
    time timestamp not null,
    log_level smallint not null references cosims.log_levels (id)
);
create index execution_info_to_messages_fk_execution_info_id on cosims.execution_info_to_messages (fk_execution_info_id);
create index execution_info_to_messages_fk_execution_message_id on cosims.execution_info_to_messages (fk_execution_message_id);
create index execution_info_to_messages_fk_parent_job_id on cosims.execution_info_to_messages (fk_parent_job_id);
create index execution_info_to_messages_log_level on cosims.execution_info_to_messages (log_level);

-- §1.5 Status history; `time` comes from the server clock.
create table cosims.job_status_changes (
    id bigserial primary key,
    fk_parent_job_id bigint not null references cosims.parent_jobs (id) on delete cascade,
    time timestamp default current_timestamp,
    error_subtype text,
    error_message text,
    job_status smallint not null references cosims.job_status (id)
);
create index job_status_changes_fk_parent_job_id on cosims.job_status_changes (fk_parent_job_id);
create index job_status_changes_job_status on cosims.job_status_changes (job_status);

-- §1.6 Legacy PSA/ARLIE requests.
create table cosims.job_creation_request (
    id serial primary key,
    request_status text check (request_status in ('open', 'closed', 'error')),
    create_job text not null check (create_job in ('PSA-WGS84', 'PSA-LAEA', 'ARLIE')),
    hydro_year timestamp,
    month timestamp
);

-- §1.7 / §4 The one-row parameter table.
create table cosims.system_parameters (
    id bigserial primary key,
    max_number_of_worker_instances smallint default 210,
    max_number_of_vcpus smallint default 920,
    max_time_for_worker_without_nomad_allocation smallint default 15,
    max_ratio_of_vcpus_to_be_used float default 0.95,
    max_number_of_extra_large_worker_instances smallint default 2,
    job_types_list text default '["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]',
    s1_search_default_duration_in_days smallint default 7,
    s1_processing_start_date timestamp default '2021-06-24',
    s2_search_default_duration_in_days smallint default 7,
    s2_processing_start_date timestamp default '2020-05-01',
    gapfilling_search_default_duration_in_days smallint default 7,
    maja_consecutive_jobs_threshold_value smallint default 60,
    maja_backward_required_job_number smallint default 8,
    activate_backward_reprocessing boolean default true,
    rabbitmq_communication_endpoint text default 'hidden_value',
    docker_image_for_si_processing text default 'hidden_value',
    docker_image_for_test_job_processing text default 'hidden_value',
    docker_image_for_rliepart2_processing text default 'hidden_value',
    docker_image_for_gfsc_processing text default 'hidden_value',
    docker_image_for_sws_wds_processing text default 'hidden_value',
    worker_init_package_tag text default 'hidden_value',
    ssp_aux_version text default 'V20211119',
    job_creation_loop_sleep smallint default 5,
    job_configuration_loop_sleep smallint default 5,
    job_execution_loop_sleep smallint default 5,
    job_publication_loop_sleep smallint default 5,
    rlies1s2_min_delay_from_end_of_day_hours smallint default 8,
    rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products smallint default 24,
    rlies1s2_min_search_window_days smallint default 7,
    rlies1s2_max_search_window_days smallint default 31,
    rlies1s2_max_search_window_days_absolute smallint,
    rlies1s2_earliest_date timestamp default '2021-05-01',
    rlies1s2_sleep_seconds_between_loop bigint,
    gfsc_daily_jobs_creation_start_date timestamp,
    constraint onerow_uni check (id = 1)
);

-- §1.8 A plain copy of every column; any column added above must be added here and in the
-- trigger function below.
create table cosims.system_parameters_history (
    history_id bigserial primary key,
    time timestamp not null default current_timestamp,
    id bigint,
    max_number_of_worker_instances smallint,
    max_number_of_vcpus smallint,
    max_time_for_worker_without_nomad_allocation smallint,
    max_ratio_of_vcpus_to_be_used float,
    max_number_of_extra_large_worker_instances smallint,
    job_types_list text,
    s1_search_default_duration_in_days smallint,
    s1_processing_start_date timestamp,
    s2_search_default_duration_in_days smallint,
    s2_processing_start_date timestamp,
    gapfilling_search_default_duration_in_days smallint,
    maja_consecutive_jobs_threshold_value smallint,
    maja_backward_required_job_number smallint,
    activate_backward_reprocessing boolean,
    rabbitmq_communication_endpoint text,
    docker_image_for_si_processing text,
    docker_image_for_test_job_processing text,
    docker_image_for_rliepart2_processing text,
    docker_image_for_gfsc_processing text,
    docker_image_for_sws_wds_processing text,
    worker_init_package_tag text,
    ssp_aux_version text,
    job_creation_loop_sleep smallint,
    job_configuration_loop_sleep smallint,
    job_execution_loop_sleep smallint,
    job_publication_loop_sleep smallint,
    rlies1s2_min_delay_from_end_of_day_hours smallint,
    rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products smallint,
    rlies1s2_min_search_window_days smallint,
    rlies1s2_max_search_window_days smallint,
    rlies1s2_max_search_window_days_absolute smallint,
    rlies1s2_earliest_date timestamp,
    rlies1s2_sleep_seconds_between_loop bigint,
    gfsc_daily_jobs_creation_start_date timestamp
);

create function cosims.system_parameters_history_trigger() returns trigger
language plpgsql as $fn$
begin
    insert into cosims.system_parameters_history (
        id, max_number_of_worker_instances, max_number_of_vcpus,
        max_time_for_worker_without_nomad_allocation, max_ratio_of_vcpus_to_be_used,
        max_number_of_extra_large_worker_instances, job_types_list,
        s1_search_default_duration_in_days, s1_processing_start_date,
        s2_search_default_duration_in_days, s2_processing_start_date,
        gapfilling_search_default_duration_in_days, maja_consecutive_jobs_threshold_value,
        maja_backward_required_job_number, activate_backward_reprocessing,
        rabbitmq_communication_endpoint, docker_image_for_si_processing,
        docker_image_for_test_job_processing, docker_image_for_rliepart2_processing,
        docker_image_for_gfsc_processing, docker_image_for_sws_wds_processing,
        worker_init_package_tag, ssp_aux_version, job_creation_loop_sleep,
        job_configuration_loop_sleep, job_execution_loop_sleep, job_publication_loop_sleep,
        rlies1s2_min_delay_from_end_of_day_hours,
        rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products,
        rlies1s2_min_search_window_days, rlies1s2_max_search_window_days,
        rlies1s2_max_search_window_days_absolute, rlies1s2_earliest_date,
        rlies1s2_sleep_seconds_between_loop, gfsc_daily_jobs_creation_start_date)
    values (
        new.id, new.max_number_of_worker_instances, new.max_number_of_vcpus,
        new.max_time_for_worker_without_nomad_allocation, new.max_ratio_of_vcpus_to_be_used,
        new.max_number_of_extra_large_worker_instances, new.job_types_list,
        new.s1_search_default_duration_in_days, new.s1_processing_start_date,
        new.s2_search_default_duration_in_days, new.s2_processing_start_date,
        new.gapfilling_search_default_duration_in_days, new.maja_consecutive_jobs_threshold_value,
        new.maja_backward_required_job_number, new.activate_backward_reprocessing,
        new.rabbitmq_communication_endpoint, new.docker_image_for_si_processing,
        new.docker_image_for_test_job_processing, new.docker_image_for_rliepart2_processing,
        new.docker_image_for_gfsc_processing, new.docker_image_for_sws_wds_processing,
        new.worker_init_package_tag, new.ssp_aux_version, new.job_creation_loop_sleep,
        new.job_configuration_loop_sleep, new.job_execution_loop_sleep, new.job_publication_loop_sleep,
        new.rlies1s2_min_delay_from_end_of_day_hours,
        new.rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products,
        new.rlies1s2_min_search_window_days, new.rlies1s2_max_search_window_days,
        new.rlies1s2_max_search_window_days_absolute, new.rlies1s2_earliest_date,
        new.rlies1s2_sleep_seconds_between_loop, new.gfsc_daily_jobs_creation_start_date);
    return new;
end
$fn$;

create trigger system_parameters_history_trigger
    before insert or update on cosims.system_parameters
    for each row execute function cosims.system_parameters_history_trigger();

-- The seed: every other column takes its default (history row #1 comes from the trigger).
insert into cosims.system_parameters (id) values (1);

-- §1.9 Zero columns: GET /health answers [] when PostgREST and PostgreSQL are up.
create table cosims.health ();

-- §1.10 Dashboard views: inner joins, so a job without a status is invisible.
create view cosims.fsc_rlie_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.tile_id, p.next_log_level,
           p.next_log_file_path, p.print_to_orch, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.fsc_rlie_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

create view cosims.test_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.next_log_level,
           p.next_log_file_path, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.test_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

create view cosims.sws_wds_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.tile_id, p.next_log_level,
           p.next_log_file_path, p.print_to_orch, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.sws_wds_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

create view cosims.gfsc_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.tile_id, p.next_log_level,
           p.next_log_file_path, p.print_to_orch, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.gfsc_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

create view cosims.rlies1_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.tile_id, p.next_log_level,
           p.next_log_file_path, p.print_to_orch, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.rlies1_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

create view cosims.rlies1s2_jobs_view as
    select c.*, p.name, p.priority, p.nomad_id, p.tile_id, p.next_log_level,
           p.next_log_file_path, p.print_to_orch, p.last_status_id as status_id,
           p.last_status_change_id, p.last_status_change_date as status_change_time,
           p.error_raised as error_occurred, p.last_status_error_subtype as status_error_subtype,
           s.name as status_name
    from cosims.rlies1s2_jobs c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = p.last_status_id;

-- §3.1 Lookups by id and status history.
create function cosims.parent_jobs_with_ids(parent_job_ids bigint[])
returns setof cosims.parent_jobs language plpgsql stable as $fn$
begin
    return query select * from cosims.parent_jobs where id = any(parent_job_ids);
end
$fn$;

create function cosims.job_status_history(parent_job_ids bigint[] default null)
returns table (parent_job_id bigint, job_name text, status smallint, status_name text,
               change_id bigint, "time" timestamp)
language sql stable as $fn$
    select c.fk_parent_job_id, p.name, c.job_status, s.name, c.id, c.time
    from cosims.job_status_changes c
    join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    join cosims.job_status s on s.id = c.job_status
    where parent_job_ids is null or c.fk_parent_job_id = any(parent_job_ids)
    order by c.fk_parent_job_id, c.id;
$fn$;

-- The current status is the history row with the highest id. The max is aggregated over the
-- whole table before the job filter applies: each status insert costs O(history), as in
-- production (§7.12), and rehearsals must feel it.
create function cosims.last_job_status_id(parent_job_ids bigint[] default null,
                                          last_status smallint[] default null)
returns table (parent_job_id bigint, status smallint, change_id bigint, "time" timestamp)
language sql stable as $fn$
    select c.fk_parent_job_id, c.job_status, c.id, c.time
    from cosims.job_status_changes c
    join (select fk_parent_job_id as job_id, max(id) as max_id
          from cosims.job_status_changes group by fk_parent_job_id) last on last.max_id = c.id
    where (parent_job_ids is null or c.fk_parent_job_id = any(parent_job_ids))
      and (last_status is null or c.job_status = any(last_status));
$fn$;

create function cosims.last_job_status(parent_job_ids bigint[] default null,
                                       last_status smallint[] default null)
returns table (parent_job_id bigint, job_name text, status smallint, status_name text,
               change_id bigint, "time" timestamp)
language sql stable as $fn$
    select l.parent_job_id, p.name, l.status, s.name, l.change_id, l.time
    from cosims.last_job_status_id(parent_job_ids, last_status) l
    join cosims.parent_jobs p on p.id = l.parent_job_id
    join cosims.job_status s on s.id = l.status;
$fn$;

-- §3.2 Work-queue selectors: they read the denormalised parent_jobs.last_status_id.
create function cosims.fsc_rlie_jobs_with_last_status(last_status smallint[])
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select c.* from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.rlies1_jobs_with_last_status(last_status smallint[])
returns setof cosims.rlies1_jobs language sql stable as $fn$
    select c.* from cosims.rlies1_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.rlies1s2_jobs_with_last_status(last_status smallint[])
returns setof cosims.rlies1s2_jobs language sql stable as $fn$
    select c.* from cosims.rlies1s2_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.gfsc_jobs_with_last_status(last_status smallint[])
returns setof cosims.gfsc_jobs language sql stable as $fn$
    select c.* from cosims.gfsc_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.sws_wds_jobs_with_last_status(last_status smallint[])
returns setof cosims.sws_wds_jobs language sql stable as $fn$
    select c.* from cosims.sws_wds_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.psa_arlie_jobs_with_last_status(last_status smallint[])
returns setof cosims.psa_arlie_jobs language sql stable as $fn$
    select c.* from cosims.psa_arlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;
create function cosims.test_jobs_with_last_status(last_status smallint[])
returns setof cosims.test_jobs language sql stable as $fn$
    select c.* from cosims.test_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status);
$fn$;

-- §3.3 Date-window selectors, [start, end) except SWS/WDS (inclusive). The gfsc, psa_arlie,
-- test_job, rlies1_measurement_date and rlies1s2_measurement_date selectors are missing in
-- production and deliberately missing here.
create function cosims.select_date_fsc_rlie_measurement_date(start_date timestamp, end_date timestamp)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select * from cosims.fsc_rlie_jobs where measurement_date >= start_date and measurement_date < end_date;
$fn$;
create function cosims.select_date_fsc_rlie_rlie_json_publication_date(start_date timestamp, end_date timestamp)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select * from cosims.fsc_rlie_jobs
    where rlie_json_publication_date >= start_date and rlie_json_publication_date < end_date;
$fn$;
create function cosims.select_date_rlies1_measurement_date_start(start_date timestamp, end_date timestamp)
returns setof cosims.rlies1_jobs language sql stable as $fn$
    select * from cosims.rlies1_jobs
    where measurement_date_start >= start_date and measurement_date_start < end_date;
$fn$;
create function cosims.select_date_rlies1_s1grd_dias_publication_date(start_date timestamp, end_date timestamp)
returns setof cosims.rlies1_jobs language sql stable as $fn$
    select * from cosims.rlies1_jobs
    where s1grd_dias_publication_date >= start_date and s1grd_dias_publication_date < end_date;
$fn$;
create function cosims.select_date_rlies1_rlies1_products_publication_date(start_date timestamp, end_date timestamp)
returns setof cosims.rlies1_jobs language sql stable as $fn$
    select * from cosims.rlies1_jobs
    where rlies1_products_publication_date >= start_date and rlies1_products_publication_date < end_date;
$fn$;
create function cosims.select_date_rlies1s2_process_date(start_date timestamp, end_date timestamp)
returns setof cosims.rlies1s2_jobs language sql stable as $fn$
    select * from cosims.rlies1s2_jobs where process_date >= start_date and process_date < end_date;
$fn$;
create function cosims.select_date_sws_wds_measurement_date(start_date timestamp, end_date timestamp)
returns setof cosims.sws_wds_jobs language sql stable as $fn$
    select * from cosims.sws_wds_jobs where measurement_date >= start_date and measurement_date <= end_date;
$fn$;

-- §3.4 FSC/RLIE time-series (MAJA), GFSC and SWS/WDS helpers.
create function cosims.fsc_rlie_jobs_with_status_tile_date(last_status smallint[], tile_id_ref text,
    low_time_bound timestamp, high_time_bound timestamp)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select c.* from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status) and p.tile_id = tile_id_ref
      and c.measurement_date >= low_time_bound and c.measurement_date < high_time_bound;
$fn$;

create function cosims.fsc_rlie_jobs_with_tile_date(tile_id_ref text, measurement_time timestamp)
returns setof cosims.fsc_rlie_jobs language plpgsql immutable as $fn$
begin
    return query select c.* from cosims.fsc_rlie_jobs c
        join cosims.parent_jobs p on p.id = c.fk_parent_job_id
        where p.tile_id = tile_id_ref and c.measurement_date = measurement_time;
end
$fn$;

create function cosims.get_last_job_with_usable_l2a(tile_id_ref text,
    high_measurement_time_bound timestamp, high_esa_time_bound timestamp, l1c_id_ref text,
    allow_codated_jobs boolean, backward_triggered_job boolean)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select c.* from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.tile_id = tile_id_ref
      and c.measurement_date <= high_measurement_time_bound
      and c.l1c_esa_creation_date < high_esa_time_bound
      and c.l1c_id <> l1c_id_ref
      and (c.l2a_status = 'generated'
           or (c.l2a_status = 'pending' and p.last_status_id not in (13, 14, 16))
           or (backward_triggered_job and c.l2a_status = 'pending' and p.last_status_id <> 16))
      and (allow_codated_jobs or c.l1c_reference_job)
    order by c.measurement_date desc, c.l1c_esa_creation_date desc, p.last_status_change_id desc
    limit 1;
$fn$;

create function cosims.fsc_rlie_jobs_following_measurement_with_tile_id(tile_id_ref text,
    low_measurement_time_bound timestamp, low_l1c_esa_creation_time_bound timestamp,
    results_limit smallint)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select c.* from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.tile_id = tile_id_ref and c.l1c_reference_job
      and c.measurement_date >= low_measurement_time_bound
      and c.l1c_esa_creation_date > low_l1c_esa_creation_time_bound
    order by c.measurement_date asc
    limit results_limit;
$fn$;

create function cosims.fsc_rlie_job_last_init_with_tile_id_no_backward(tile_id_ref text,
    high_time_bound timestamp)
returns setof cosims.fsc_rlie_jobs language sql stable as $fn$
    select c.* from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.tile_id = tile_id_ref and c.maja_mode = 'init' and c.measurement_date < high_time_bound
      and not coalesce(c.backward_reprocessing_run, false) and c.l2a_status = 'generated'
    order by c.measurement_date desc
    limit 1;
$fn$;

create function cosims.gfsc_jobs_with_status_product_date_tile(last_status smallint[],
    product_date_ref timestamp, tile_id_ref text)
returns setof cosims.gfsc_jobs language sql stable as $fn$
    select c.* from cosims.gfsc_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
    where p.last_status_id = any(last_status) and c.product_date = product_date_ref
      and p.tile_id = tile_id_ref;
$fn$;

-- NULLs explicitly last, unlike the plain "last inserted job" GETs (§7.15).
create function cosims.last_job_with_fsc_publication_latest_date()
returns setof cosims.sws_wds_jobs language sql stable as $fn$
    select * from cosims.sws_wds_jobs order by fsc_publication_latest_date desc nulls last limit 1;
$fn$;

-- §3.5 Maintenance, legacy and trigger functions.
-- The functional-test fixture: sequences, parameters and lookups are kept.
create function cosims.empty_database() returns void language plpgsql volatile as $fn$
begin
    delete from cosims.execution_info_to_messages;
    delete from cosims.execution_messages;
    delete from cosims.execution_info;
    delete from cosims.job_status_changes;
    delete from cosims.fsc_rlie_jobs;
    delete from cosims.sws_wds_jobs;
    delete from cosims.gfsc_jobs;
    delete from cosims.rlies1_jobs;
    delete from cosims.rlies1s2_jobs;
    delete from cosims.psa_arlie_jobs;
    delete from cosims.test_jobs;
    delete from cosims.other_jobs;
    delete from cosims.parent_jobs;
    delete from cosims.job_creation_request;
end
$fn$;

-- Despite its name, only removes the SWS/WDS jobs (through their parents).
create function cosims.empty_table() returns void language plpgsql volatile as $fn$
begin
    delete from cosims.parent_jobs where id in (select fk_parent_job_id from cosims.sws_wds_jobs);
end
$fn$;

-- The name's typo ("satus") is the production name.
create function cosims.jobs_satus_unsync_jobs()
returns setof cosims.parent_jobs language sql stable as $fn$
    select p.* from cosims.parent_jobs p
    join cosims.last_job_status_id() l on l.parent_job_id = p.id
    where p.last_status_id is distinct from l.status;
$fn$;

create function cosims.jobs_status_manual_sync() returns void language plpgsql volatile as $fn$
begin
    update cosims.parent_jobs p set error_raised = true
    where p.id in (select u.id from cosims.jobs_satus_unsync_jobs() u)
      and exists (select 1 from cosims.job_status_changes c
                  where c.fk_parent_job_id = p.id and c.job_status between 13 and 15);
    update cosims.parent_jobs p
    set last_status_id = c.job_status, last_status_change_id = c.id,
        last_status_change_date = c.time, last_status_error_subtype = c.error_subtype
    from cosims.last_job_status_id() l
    join cosims.job_status_changes c on c.id = l.change_id
    where l.parent_job_id = p.id and p.last_status_id is distinct from l.status;
end
$fn$;

-- Declared IMMUTABLE although they read tables, as in production.
create function cosims.job_creation_ids() returns setof bigint language plpgsql immutable as $fn$
begin
    return query select id from cosims.parent_jobs where name = 'job-creation';
end
$fn$;
create function cosims.job_configuration_ids() returns setof bigint language plpgsql immutable as $fn$
begin
    return query select id from cosims.parent_jobs where name = 'job-configuration';
end
$fn$;
create function cosims.job_execution_ids() returns setof bigint language plpgsql immutable as $fn$
begin
    return query select id from cosims.parent_jobs where name = 'job-execution';
end
$fn$;

-- Unqualified table name: works only with cosims on the search_path (42P01 from plain psql).
create function cosims.messages_with_body(body_arg text)
returns table (id bigint, body text) language plpgsql immutable as $fn$
begin
    return query select m.id, m.body from execution_messages m where m.body = body_arg;
end
$fn$;

create function cosims.job_messages(parent_job_ids bigint[])
returns table (parent_job_id bigint, job_name text, log_level text, "time" timestamp, body text)
language sql stable as $fn$
    select x.fk_parent_job_id, p.name, l.name, x.time, m.body
    from cosims.execution_info_to_messages x
    join cosims.parent_jobs p on p.id = x.fk_parent_job_id
    join cosims.log_levels l on l.id = x.log_level
    join cosims.execution_messages m on m.id = x.fk_execution_message_id
    where x.fk_parent_job_id = any(parent_job_ids)
    order by x.time;
$fn$;

-- Broken as in production: three declared columns, five selected (42804 when called).
create function cosims.job_creation_messages()
returns table (job_name text, "time" timestamp, body text) language plpgsql stable as $fn$
begin
    return query select * from cosims.job_messages(array(select cosims.job_creation_ids()));
end
$fn$;
create function cosims.job_configuration_messages()
returns table (job_name text, "time" timestamp, body text) language plpgsql stable as $fn$
begin
    return query select * from cosims.job_messages(array(select cosims.job_configuration_ids()));
end
$fn$;
create function cosims.job_execution_messages()
returns table (job_name text, "time" timestamp, body text) language plpgsql stable as $fn$
begin
    return query select * from cosims.job_messages(array(select cosims.job_execution_ids()));
end
$fn$;

-- §2: validates every status insert against the transition matrix, then denormalises the new
-- status into parent_jobs. The current status comes from the history (max id), not from
-- parent_jobs.last_status_id.
create function cosims.check_status_change() returns trigger language plpgsql as $fn$
declare
    previous smallint;
    allowed smallint[];
    stored smallint;
begin
    select l.status into previous
    from cosims.last_job_status_id(array[new.fk_parent_job_id]) l;

    if previous is null then
        if new.job_status not in (1, 5, 13, 16) then
            raise exception 'Error : invalid job status creation %!', new.job_status;
        end if;
    elsif previous <> 15 then
        allowed := case previous
            when 1 then array[2, 13, 14, 16]
            when 2 then array[3, 13, 16]
            when 3 then array[4, 13, 14, 16]
            when 4 then array[5, 13]
            when 5 then array[6, 13, 14, 16]
            when 6 then array[7, 13, 14, 16]
            when 7 then array[8, 13, 14, 16]
            when 8 then array[9, 13, 14, 16]
            when 9 then array[10, 12, 13, 14, 16]
            when 10 then array[11, 13, 14, 16]
            when 11 then array[12]
            when 12 then array[13, 14]
            when 13 then array[13, 14, 15]
            when 14 then array[5, 13, 14, 15]
            when 16 then array[13]
            else array[]::smallint[]
        end;
        if not (new.job_status = any(allowed)) then
            raise exception 'Error : invalid job status transition % to %!', previous, new.job_status;
        end if;
    end if;

    update cosims.parent_jobs
    set last_status_id = new.job_status,
        last_status_change_id = new.id,
        last_status_change_date = new.time,
        last_status_error_subtype = new.error_subtype,
        error_raised = error_raised or new.job_status in (13, 14, 15)
    where id = new.fk_parent_job_id;
    if not found then
        raise exception 'Fail to update parent_jobs status with id % to status %!',
            new.fk_parent_job_id, new.job_status;
    end if;

    select last_status_id into stored from cosims.parent_jobs where id = new.fk_parent_job_id;
    if stored is distinct from new.job_status then
        raise exception 'Status for job % in table parent_jobs is not last_status % but %',
            new.fk_parent_job_id, new.job_status, stored;
    end if;
    return new;
end
$fn$;

create trigger check_status_change
    before insert on cosims.job_status_changes
    for each row execute function cosims.check_status_change();

-- PostgREST 6.0.1 mis-parses such names in query strings.
create function cosims.check_parent_job_name() returns trigger language plpgsql as $fn$
begin
    if new.name ~ E'[ \\t\\v\\b\\r\\n\\u00a0]' then
        raise exception 'Error : invalid job name : % !', new.name;
    end if;
    return new;
end
$fn$;

create trigger check_parent_job_name
    before insert or update of name on cosims.parent_jobs
    for each row execute function cosims.check_parent_job_name();

-- §5.1 Grants: ALL on everything but the two lookup tables, for an unauthenticated API.
grant usage on schema cosims to web_anonymous;
grant all on all tables in schema cosims to web_anonymous;
revoke all on cosims.log_levels, cosims.job_status from web_anonymous;
grant select on cosims.log_levels, cosims.job_status to web_anonymous;
grant usage, select on all sequences in schema cosims to web_anonymous;
