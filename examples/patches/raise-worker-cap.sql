-- Raise the worker cap and set the new processing image (the runbook's "database patch").
update cosims.system_parameters
set
    max_number_of_worker_instances = 150,
    docker_image_for_si_processing = 'registry.example/cosims/si:git-1234abcd';
