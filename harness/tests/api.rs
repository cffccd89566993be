//! The PostgREST-compatible API on a real cluster holding the 1000-job data set, through a
//! real HTTP client (reqwest) and through curl with the headers the operator scripts send.

use std::process::Command;

use hrsi_harness::{
    api::{Api, ApiConfig},
    dataset::DatasetSpec,
    postgres::{Server, production_cluster},
    schema::Schema,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn setup() -> (Server, Api, Client) {
    let server = production_cluster(&Schema::builtin(), Some(&DatasetSpec::default()))
        .await
        .unwrap();
    let api = Api::start(&server, "postgres", ApiConfig::default())
        .await
        .unwrap();
    (server, api, Client::new())
}

async fn sql_i64(server: &Server, sql: &str) -> i64 {
    let c = server.connect("postgres").await.unwrap();
    c.query_one(sql, &[]).await.unwrap().get(0)
}

async fn get(c: &Client, url: String) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = c.get(url).send().await.unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        s,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_filter_order_page_count_and_embed_like_postgrest() {
    let (server, api, c) = setup().await;
    let base = api.url();

    // The workers' bash: one object, not an array.
    let r = c
        .get(format!("{base}/system_parameters?id=eq.1"))
        .header("Accept", "application/vnd.pgrst.object+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    let workers = sql_i64(
        &server,
        "select max_number_of_worker_instances::bigint from cosims.system_parameters",
    )
    .await;
    assert_eq!(p["max_number_of_worker_instances"], workers);
    assert_eq!(
        p["job_types_list"],
        r#"["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]"#
    );

    // Paging with an exact count.
    let total = sql_i64(&server, "select count(*) from cosims.parent_jobs").await;
    let third_last = sql_i64(
        &server,
        "select id from cosims.parent_jobs order by id desc offset 2 limit 1",
    )
    .await;
    let r = c
        .get(format!(
            "{base}/parent_jobs?select=id,job:name&order=id.desc&limit=5&offset=2"
        ))
        .header("Prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("2-6/{total}"));
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["id"].as_i64().unwrap(), third_last);
    assert!(rows[0].get("job").is_some() && rows[0].get("name").is_none());

    // A Range header.
    let r = c
        .get(format!("{base}/job_status?order=id"))
        .header("Range", "3-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "3-5/*");
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![4, 5, 6]
    );

    // Every operator agrees with SQL on the data set.
    let m = sql_i64(&server, "select min(id) + 100 from cosims.parent_jobs").await;
    let ranges = [
        (
            format!("id=gt.{m}&id=lte.{}", m + 100),
            format!("id > {m} and id <= {}", m + 100),
        ),
        (
            format!("id=gte.{m}&id=lt.{}", m + 100),
            format!("id >= {m} and id < {}", m + 100),
        ),
        (
            format!("or=(last_status_id.eq.13,and(last_status_id.eq.12,id.lt.{m}))"),
            format!("(last_status_id = 13 or (last_status_id = 12 and id < {m}))"),
        ),
    ];
    let fixed = [
        ("last_status_id=eq.12", "last_status_id = 12"),
        ("last_status_id=neq.12", "last_status_id <> 12"),
        (
            "last_status_id=in.(13,14,15)",
            "last_status_id in (13,14,15)",
        ),
        (
            "last_status_id=not.in.(12,16)",
            "not last_status_id in (12,16)",
        ),
        ("nomad_id=is.null", "nomad_id is null"),
        ("nomad_id=not.is.null", "nomad_id is not null"),
        ("error_raised=is.true", "error_raised is true"),
        ("name=like.*gfsc*", "name like '%gfsc%'"),
        ("name=ilike.*GFSC*", "name ilike '%gfsc%'"),
        (
            "last_status_change_date=gte.2026-10-25T00:00:00",
            "last_status_change_date >= '2026-10-25'",
        ),
    ];
    for (q, sql) in ranges
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .chain(fixed)
    {
        let expected = sql_i64(
            &server,
            &format!("select count(*) from cosims.parent_jobs where {sql}"),
        )
        .await;
        let (s, h, _) = get(&c, format!("{base}/parent_jobs?select=id&{q}&limit=0")).await;
        assert_eq!(s, 200, "{q}");
        let _ = h;
        let r = c
            .get(format!("{base}/parent_jobs?select=id&{q}"))
            .header("Prefer", "count=exact")
            .send()
            .await
            .unwrap();
        let range = r.headers()["content-range"].to_str().unwrap().to_owned();
        let rows: Vec<Value> = r.json().await.unwrap();
        assert_eq!(rows.len() as i64, expected, "{q}");
        assert!(range.ends_with(&format!("/{expected}")), "{q}: {range}");
        assert!(
            expected > 0 || q.contains("error_raised"),
            "{q} selects nothing"
        );
    }

    // Embedding the parent, as the Python client reads jobs.
    let (s, _, v) = get(
        &c,
        format!("{base}/fsc_rlie_jobs?select=*,parent_jobs(*)&order=id&limit=2"),
    )
    .await;
    assert_eq!(s, 200);
    let first = &v[0];
    assert_eq!(first["parent_jobs"]["id"], first["fk_parent_job_id"]);
    assert!(first["parent_jobs"]["last_status_id"].is_i64());

    // A filter on the embedded parent filters the embedding, not the rows (the client then
    // drops children whose embed is null).
    let (s, _, v) = get(&c, format!("{base}/fsc_rlie_jobs?select=id,parent_jobs(id,name)&parent_jobs.name=like.fsc_rlie_job_*&order=id&limit=3")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|r| r["parent_jobs"]["name"]
                .as_str()
                .unwrap()
                .starts_with("fsc_rlie_job_")),
        "{v}"
    );
    let (s, _, v) = get(
        &c,
        format!(
            "{base}/fsc_rlie_jobs?select=id,parent_jobs(id,name)&parent_jobs.name=eq.nope&limit=3"
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|r| r["parent_jobs"].is_null()),
        "{v}"
    );
    let (s, _, v) = get(&c, format!("{base}/fsc_rlie_jobs?parent_jobs.name=eq.x")).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("PGRST100"))
    );
    let (s, _, v) = get(
        &c,
        format!("{base}/fsc_rlie_jobs?select=id,parent_jobs(id)&parent_jobs.nme=eq.x"),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("42703"))
    );

    // The "last inserted job" query of job creation.
    let (s, _, v) = get(
        &c,
        format!("{base}/fsc_rlie_jobs?select=l1c_dias_publication_date&order=l1c_dias_publication_date.desc.nullslast&limit=1"),
    )
    .await;
    assert_eq!(s, 200);
    assert!(v[0]["l1c_dias_publication_date"].is_string());

    // Views and /health.
    let (s, _, v) = get(&c, format!("{base}/health")).await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, _, v) = get(&c, format!("{base}/gfsc_jobs_view?limit=1")).await;
    assert_eq!(s, 200);
    assert!(v[0]["status_name"].is_string(), "{v}");
    let (s, _, v) = get(&c, format!("{base}/")).await;
    assert_eq!(s, 200);
    assert!(v["paths"]["/rpc/job_status_history"].is_object());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_through_the_triggers_and_errors_have_postgrests_shape_and_codes() {
    let (server, api, c) = setup().await;
    let base = api.url();

    // Job creation as the Python client does it: form-encoded posts.
    let r = c
        .post(format!("{base}/parent_jobs"))
        .header("Prefer", "return=representation")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("name", "fsc_rlie_job"),
                    ("tile_id", "32TLR"),
                    ("next_log_level", "20"),
                    ("print_to_orch", "True"),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Vec<Value> = r.json().await.unwrap();
    let id = created[0]["id"].as_i64().unwrap();
    assert_eq!(created[0]["print_to_orch"], true);
    let post_status = |status: i64| {
        c.post(format!("{base}/job_status_changes"))
            .json(&json!({"fk_parent_job_id": id, "job_status": status}))
            .send()
    };
    let r = post_status(1).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.text().await.unwrap(), "", "return=minimal has no body");

    // A refused transition: PostgreSQL's message and SQLSTATE, 400.
    let r = post_status(12).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "P0001");
    assert_eq!(
        e["message"],
        "Error : invalid job status transition 1 to 12!"
    );
    assert!(
        e.as_object().unwrap().contains_key("details")
            && e.as_object().unwrap().contains_key("hint")
    );
    let last = sql_i64(
        &server,
        &format!("select last_status_id::bigint from cosims.parent_jobs where id = {id}"),
    )
    .await;
    assert_eq!(last, 1, "a refused transition changed the job");

    // Bulk insert with representation.
    let r = c
        .post(format!("{base}/job_status_changes?select=id,job_status"))
        .header("Prefer", "return=representation")
        .json(&json!([{"fk_parent_job_id": id, "job_status": 2}, {"fk_parent_job_id": id, "job_status": 3}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["job_status"], 3);
    assert!(rows[1].get("time").is_none());

    // PATCH without a filter, as set_system_param.sh: the value is a JSON string, coerced.
    let before = sql_i64(
        &server,
        "select count(*) from cosims.system_parameters_history",
    )
    .await;
    let r = c
        .patch(format!("{base}/system_parameters"))
        .json(&json!({"max_number_of_worker_instances": "3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        sql_i64(
            &server,
            "select max_number_of_worker_instances::bigint from cosims.system_parameters"
        )
        .await,
        3
    );
    assert_eq!(
        sql_i64(
            &server,
            "select count(*) from cosims.system_parameters_history"
        )
        .await,
        before + 1
    );

    // PATCH and DELETE with filters and representation.
    let r = c
        .patch(format!("{base}/parent_jobs?id=eq.{id}"))
        .header("Prefer", "return=representation")
        .header("Accept", "application/vnd.pgrst.object+json")
        .json(&json!({"nomad_id": "fsc-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["nomad_id"], "fsc-1");
    let r = c
        .delete(format!("{base}/parent_jobs?id=eq.{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status(), r.headers()["content-range"].to_str().unwrap()),
        (StatusCode::NO_CONTENT, "*/1")
    );
    assert_eq!(
        sql_i64(
            &server,
            &format!(
                "select count(*) from cosims.job_status_changes where fk_parent_job_id = {id}"
            )
        )
        .await,
        0
    );

    // Error shapes and codes.
    let check = |r: reqwest::Response, status: u16, code: &'static str| async move {
        let got = r.status().as_u16();
        let e: Value = r.json().await.unwrap();
        assert_eq!(got, status, "{e}");
        assert_eq!(e["code"], code, "{e}");
        for k in ["message", "details", "hint"] {
            assert!(e.as_object().unwrap().contains_key(k), "{e}");
        }
        e
    };
    let e = check(
        c.get(format!("{base}/parent_jobs?nmae=eq.x"))
            .send()
            .await
            .unwrap(),
        400,
        "42703",
    )
    .await;
    assert_eq!(e["message"], "column parent_jobs.nmae does not exist");
    let e = check(
        c.post(format!("{base}/parent_jobs"))
            .json(&json!({"tile_i": "x"}))
            .send()
            .await
            .unwrap(),
        400,
        "PGRST204",
    )
    .await;
    assert!(e["hint"].as_str().unwrap().contains("tile_id"));
    let e = check(
        c.get(format!("{base}/parent_job")).send().await.unwrap(),
        404,
        "PGRST205",
    )
    .await;
    assert!(e["hint"].as_str().unwrap().contains("parent_jobs"));
    check(
        c.post(format!("{base}/rpc/no_such_fn"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        404,
        "PGRST202",
    )
    .await;
    check(
        c.post(format!("{base}/job_status_changes"))
            .json(&json!({"fk_parent_job_id": 999_999_999, "job_status": 15}))
            .send()
            .await
            .unwrap(),
        400,
        "P0001",
    )
    .await;
    check(
        c.post(format!("{base}/parent_jobs"))
            .json(&json!({"name": "x", "tile_id": "32TLR", "next_log_level": 99}))
            .send()
            .await
            .unwrap(),
        409,
        "23503",
    )
    .await;
    check(
        c.post(format!("{base}/job_status"))
            .json(&json!({"id": 17, "name": "x"}))
            .send()
            .await
            .unwrap(),
        401,
        "42501",
    )
    .await;
    check(
        c.post(format!("{base}/parent_jobs"))
            .header("Content-Type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap(),
        400,
        "PGRST102",
    )
    .await;
    check(
        c.post(format!("{base}/parent_jobs"))
            .json(&json!({"name": "a b", "tile_id": "x", "next_log_level": 20}))
            .send()
            .await
            .unwrap(),
        400,
        "P0001",
    )
    .await;
    check(
        c.post(format!("{base}/parent_jobs"))
            .json(&json!({"name": "x", "next_log_level": 20}))
            .send()
            .await
            .unwrap(),
        400,
        "23502",
    )
    .await;
    check(
        c.get(format!("{base}/system_parameters?id=gt.5"))
            .header("Accept", "application/vnd.pgrst.object+json")
            .send()
            .await
            .unwrap(),
        406,
        "PGRST116",
    )
    .await;
    check(
        c.get(format!("{base}/parent_jobs?id=eq.abc"))
            .send()
            .await
            .unwrap(),
        400,
        "22P02",
    )
    .await;
    check(
        c.patch(format!("{base}/gfsc_jobs_view"))
            .json(&json!({"tile_id": "x"}))
            .send()
            .await
            .unwrap(),
        405,
        "PGRST105",
    )
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_functions_take_named_arguments_and_read_only_ones_run_read_only() {
    let (server, api, c) = setup().await;
    let base = api.url();
    let done = sql_i64(&server, "select count(*) from cosims.fsc_rlie_jobs f join cosims.parent_jobs p on p.id = f.fk_parent_job_id where p.last_status_id in (12, 13)").await;
    let r = c
        .post(format!(
            "{base}/rpc/fsc_rlie_jobs_with_last_status?single-object"
        ))
        .body(r#"{"last_status": [12, 13]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(rows.len() as i64, done);
    assert!(done > 10);

    // Defaults apply to omitted arguments; arrays as JSON or as PostgreSQL literals.
    let a = sql_i64(
        &server,
        "select min(fk_parent_job_id) from cosims.job_status_changes",
    )
    .await;
    let b = sql_i64(
        &server,
        "select max(fk_parent_job_id) from cosims.job_status_changes",
    )
    .await;
    let r = c
        .post(format!("{base}/rpc/job_status_history"))
        .json(&json!({"parent_job_ids": [a, b]}))
        .send()
        .await
        .unwrap();
    let rows: Vec<Value> = r.json().await.unwrap();
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r["parent_job_id"] == a || r["parent_job_id"] == b),
        "{rows:?}"
    );
    let (s, _, v) = get(
        &c,
        format!("{base}/rpc/last_job_status_id?parent_job_ids=%7B{a},{b}%7D"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 2);

    // Date windows as the Python client sends them.
    let r = c
        .post(format!("{base}/rpc/select_date_fsc_rlie_measurement_date"))
        .json(&json!({"start_date": "2026-10-01T00:00:00", "end_date": "2026-11-01T00:00:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let n = r.json::<Vec<Value>>().await.unwrap().len() as i64;
    assert_eq!(n, sql_i64(&server, "select count(*) from cosims.fsc_rlie_jobs where measurement_date >= '2026-10-01' and measurement_date < '2026-11-01'").await);

    // Unknown or missing argument names: PostgREST's 404.
    let r = c
        .post(format!("{base}/rpc/job_status_history"))
        .json(&json!({"ids": [1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A volatile function cannot be called with GET; broken functions answer PostgreSQL's error.
    let r = c
        .get(format!("{base}/rpc/empty_database"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .post(format!("{base}/rpc/job_creation_messages"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let e = r.json::<Value>().await.unwrap();
    assert_eq!(e["code"], "42804", "{e}");
    let r = c
        .post(format!("{base}/rpc/jobs_satus_unsync_jobs"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    // The functional-test fixture: anonymous and destructive, as in production.
    let r = c
        .post(format!("{base}/rpc/empty_database"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        sql_i64(&server, "select count(*) from cosims.parent_jobs").await,
        0
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_filters_are_refused_or_bound_and_never_reach_sql_text() {
    let (server, api, c) = setup().await;
    let base = api.url();
    let jobs = sql_i64(&server, "select count(*) from cosims.parent_jobs").await;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // Hostile names, operators, orders and selects: 400 before any SQL is built.
    for q in [
        format!("{}=eq.1", enc("id;drop table cosims.parent_jobs")),
        format!("{}=eq.1", enc("id\"")),
        format!("id={}", enc("eq);drop table cosims.parent_jobs;--")),
        format!("id={}", enc("exec.1")),
        format!("order={}", enc("id;drop table cosims.parent_jobs")),
        format!("order={}", enc("id.desc,(select 1)")),
        format!("select={}", enc("id,(select 1)")),
        format!("select={}", enc("id::text")),
        format!("id=in.{}", enc("(1,2')")),
        format!(
            "id=in.({})",
            (0..1001)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "or={}",
            enc(&format!("{}id.eq.1{}", "or(".repeat(10), ")".repeat(10)))
        ),
        format!("name=eq.{}", "x".repeat(20_000)),
        format!("limit={}", enc("1;drop")),
    ] {
        let r = c
            .get(format!("{base}/parent_jobs?{q}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let e: Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{q}: {e}");
        assert!(e["message"].as_str().unwrap().len() > 10, "{e}");
    }
    let r = c
        .get(format!(
            "{base}/parent_jobs?id=in.({})",
            (0..1001)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ))
        .send()
        .await
        .unwrap();
    let e: Value = r.json().await.unwrap();
    assert!(
        e["details"]
            .as_str()
            .unwrap()
            .contains("page the selection"),
        "{e}"
    );
    // Hostile values are data: bound, matched literally, harmless.
    for v in [
        "x'); drop table cosims.parent_jobs; --",
        "'; select pg_sleep(10); --",
        "\\' or 1=1 --",
    ] {
        let (s, _, body) = get(&c, format!("{base}/parent_jobs?name=eq.{}", enc(v))).await;
        assert_eq!((s, body), (StatusCode::OK, json!([])), "{v}");
        let (s, _, _) = get(
            &c,
            format!(
                "{base}/parent_jobs?name=in.({})",
                enc(&format!(
                    "\"{}\"",
                    v.replace('\\', "\\\\").replace('"', "\\\"")
                ))
            ),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, _, e) = get(
        &c,
        format!(
            "{base}/parent_jobs?id=eq.{}",
            enc("1;drop table cosims.parent_jobs")
        ),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("22P02"))
    );
    assert_eq!(
        sql_i64(&server, "select count(*) from cosims.parent_jobs").await,
        jobs
    );
    api.stop().await;
}

/// The operator scripts' way: curl with `Content-Type: application/json`, the object
/// `Accept` header of the workers' bash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_as_the_operator_scripts_set_and_read_a_parameter() {
    let (_server, api, _c) = setup().await;
    let base = api.url();
    let out = tokio::task::spawn_blocking(move || {
        let patch = Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "PATCH",
            ])
            .arg(format!("{base}/system_parameters"))
            .args(["-H", "Content-Type: application/json"])
            .args(["-d", r#"{"max_number_of_worker_instances": "150"}"#])
            .output()
            .unwrap();
        let get = Command::new("curl")
            .args(["-sS", "-H", "Accept: application/vnd.pgrst.object+json"])
            .arg(format!("{base}/system_parameters?id=eq.1"))
            .output()
            .unwrap();
        (
            String::from_utf8(patch.stdout).unwrap(),
            String::from_utf8(get.stdout).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(out.0, "204");
    let v: Value = serde_json::from_str(&out.1).unwrap();
    assert_eq!(v["max_number_of_worker_instances"], 150);
    api.stop().await;
}

/// Random filter trees (hostile characters in every value) through HTTP: PostgreSQL always
/// gets well-formed SQL. Answers are 200, or a 400 for a value that is not of the column's
/// type (22xxx) or a predicate that does not fit it (42804); never a syntax error, never 5xx.
#[test]
fn random_filters_always_reach_postgresql_as_well_formed_sql() {
    use hrsi_harness::api::query::{Filter, IsValue, Op, Predicate, render_filter};
    use proptest::prelude::*;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, api, c) = rt.block_on(setup());
    let base = api.url();
    let value = || {
        proptest::string::string_regex(
            r#"[a-z0-9 '";,()\\%*.:=&+\-]{0,10}|[0-9]{1,4}|2026-1[01]-0[1-9]( 0[0-9]:00:00)?"#,
        )
        .unwrap()
    };
    let leaf = (
        prop::sample::select(vec![
            "id",
            "name",
            "tile_id",
            "last_status_id",
            "last_status_change_date",
            "error_raised",
        ]),
        any::<bool>(),
        prop_oneof![
            (
                prop::sample::select(vec![
                    Op::Eq,
                    Op::Neq,
                    Op::Gt,
                    Op::Gte,
                    Op::Lt,
                    Op::Lte,
                    Op::Like,
                    Op::Ilike
                ]),
                value()
            )
                .prop_map(|(o, v)| Predicate::Cmp(o, v)),
            prop::collection::vec(value(), 0..4).prop_map(Predicate::In),
            prop::sample::select(vec![
                IsValue::Null,
                IsValue::True,
                IsValue::False,
                IsValue::Unknown
            ])
            .prop_map(Predicate::Is),
        ],
    )
        .prop_map(|(c, negated, predicate)| Filter::Leaf {
            column: c.to_owned(),
            negated,
            predicate,
        });
    let tree = leaf.prop_recursive(2, 8, 3, |inner| {
        (
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(inner, 1..3),
        )
            .prop_map(|(or, negated, children)| Filter::Logic {
                or,
                negated,
                children,
            })
    });
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 96,
        ..Default::default()
    });
    runner
        .run(&prop::collection::vec(tree, 1..3), |filters| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("select", "id");
            for f in &filters {
                let (k, v) = render_filter(f);
                q.append_pair(&k, &v);
            }
            let url = format!("{base}/parent_jobs?{}", q.finish());
            let (status, body) = rt.block_on(async {
                let r = c.get(&url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            });
            if status != 200 {
                let e: Value = serde_json::from_str(&body).unwrap();
                let code = e["code"].as_str().unwrap_or_default().to_owned();
                prop_assert!(
                    status == 400 && (code.starts_with("22") || code == "42804"),
                    "{url}: {status} {body}"
                );
            }
            Ok(())
        })
        .unwrap();
    let n = rt.block_on(sql_i64(&server, "select count(*) from cosims.parent_jobs"));
    assert!(n > 1000);
    rt.block_on(api.stop());
}
