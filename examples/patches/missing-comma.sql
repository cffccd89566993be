-- The same patch as the public example ships it: a comma is missing after the second item,
-- so PostgreSQL reads `'no more used' docker_image_for_si_processing` and stops there.
update cosims.system_parameters
set
    max_number_of_worker_instances = 150,
    worker_init_package_tag = 'no more used'
    docker_image_for_si_processing = 'registry.example/cosims/si:git-1234abcd';
