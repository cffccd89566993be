-- The runbook's example parameter update with a missing comma.
update
    cosims.system_parameters
set
    max_number_of_worker_instances = 150
    docker_image_for_si_processing = 'registry.example/si:git-b7e71dc4';
select 1 as after_the_error;
