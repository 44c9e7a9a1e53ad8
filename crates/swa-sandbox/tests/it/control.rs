//! The control endpoint over HTTP, as scripts read it.

use serde_json::{Value, json};

use crate::start;

#[tokio::test]
async fn the_control_endpoint_shows_calls_timeline_and_state() {
    let sandbox = start("crash-loop,throttling", 1.0);
    let base = sandbox.aws_url();
    let health = reqwest::get(format!("{}/health", sandbox.app_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let r = reqwest::Client::new()
        .post(&base)
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListTasks",
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body(r#"{"cluster":"startupwebapp-cluster"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let calls: Value = reqwest::get(format!("{base}/_sandbox/calls"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = calls.as_array().unwrap();
    assert_eq!(
        calls.len(),
        2,
        "control requests are not recorded: {calls:?}"
    );
    assert_eq!(calls[0]["seq"], 1);
    assert_eq!(calls[0]["service"], "app");
    assert_eq!(calls[0]["operation"], "health");
    assert_eq!(calls[1]["seq"], 2);
    assert_eq!(calls[1]["service"], "ecs");
    assert_eq!(calls[1]["operation"], "ListTasks");
    assert_eq!(calls[1]["request"]["cluster"], "startupwebapp-cluster");
    assert_eq!(calls[1]["status"], 200);

    let state: Value = reqwest::get(format!("{base}/_sandbox/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["scenario"],
        serde_json::json!(["crash-loop", "throttling"])
    );
    assert_eq!(state["service"]["serviceName"], "startupwebapp-service");
    assert_eq!(state["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(state["taskDefinitions"].as_array().unwrap().len(), 6);
    assert_eq!(state["images"].as_array().unwrap().len(), 4);
    let td = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task";
    let history: Vec<(&Value, &Value, &Value)> = state["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (&d["status"], &d["from"], &d["to"]))
        .collect();
    assert_eq!(
        history,
        [
            (&json!("SUCCESSFUL"), &json!([]), &json!(format!("{td}:2"))),
            (
                &json!("SUCCESSFUL"),
                &json!([format!("{td}:2")]),
                &json!(format!("{td}:3"))
            ),
        ]
    );

    let timeline: Value = reqwest::get(format!("{base}/_sandbox/timeline"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        timeline.as_array().unwrap().is_empty(),
        "nothing happened yet: {timeline}"
    );
    let missing = reqwest::get(format!("{base}/_sandbox/nothing"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
