# `hrsi plan` as a parameterized batch job on your own Nomad cluster: one dispatch per shard,
# then one merge. Every shard runs the same plan (the same `plan_args`) and writes its slice;
# `hrsi plan merge` gives the same bytes as one machine running the whole sweep.
#
#   nomad job run deploy/hrsi-plan.nomad
#   for i in 1 2 3 4; do nomad job dispatch -meta shard=$i hrsi-plan; done
#   # when all four are complete (nomad job status hrsi-plan):
#   hrsi plan merge /srv/hrsi-plan/shard-*-of-4.json --json plan.json --report report/
#
# Change the plan for one batch without editing this file:
#   nomad job dispatch -meta shard=1 -meta shards=2 -meta plan_args='--days 20 ...' hrsi-plan
#
# Needs `hrsi` on the clients' PATH and `out_dir` on storage the merge can read (a shared
# mount, or copy the files back). raw_exec must be enabled on the clients.
job "hrsi-plan" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "forbidden"
    meta_required = ["shard"]
    meta_optional = ["shards", "plan_args", "out_dir"]
  }

  # Defaults for every dispatch; a dispatch's -meta overrides them. Shards need a fixed number
  # of runs per point (--replications auto decides each round from the last, on one machine):
  # 59 is the fewest that can show "95 % of runs, 95 % confidence".
  meta {
    shards    = "4"
    out_dir   = "/srv/hrsi-plan"
    plan_args = "--days 30 --outage-start-day 5 --outage-days 5 --restart waves --sweep param.max_number_of_worker_instances=20..210:10 --replications 59 --goal worker-cap --within 48"
  }

  group "plan" {
    task "shard" {
      driver = "raw_exec"

      config {
        # A shell, so plan_args splits into words as typed.
        command = "/bin/sh"
        args    = ["-c", "exec hrsi plan ${NOMAD_META_plan_args} --shard ${NOMAD_META_shard}/${NOMAD_META_shards} --out ${NOMAD_META_out_dir}/shard-${NOMAD_META_shard}-of-${NOMAD_META_shards}.json"]
      }

      # hrsi plan uses every core it is given (rayon): ask for a whole small machine.
      resources {
        cpu    = 4000
        memory = 2048
      }
    }
  }
}
