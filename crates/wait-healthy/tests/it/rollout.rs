//! A rollout started the way update-service starts one; shared by the tests and the bench.

use swa_sandbox::Sandbox;

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";

/// Registers a new revision (release-4) and points the service at it, as update-service does;
/// returns the new deployment's id.
pub fn start_rollout(sandbox: &Sandbox) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let env = swa_gha::Env::from_pairs(sandbox.env());
        let ecs = swa_aws::Aws::load(&env).await.ecs();
        let current = ecs
            .describe_task_definition()
            .task_definition("startupwebapp-service-task:3")
            .send()
            .await
            .unwrap();
        let mut registration =
            swa_ecs::Registration::from_described(current.task_definition().unwrap(), &[]);
        registration.set_image("startupwebapp", &format!("{REPO}:release-4"));
        let registered = registration.request(&ecs).send().await.unwrap();
        let arn = registered
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string();
        let updated = ecs
            .update_service()
            .cluster("startupwebapp-cluster")
            .service("startupwebapp-service")
            .task_definition(arn)
            .send()
            .await
            .unwrap();
        updated
            .service()
            .unwrap()
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .unwrap()
            .id()
            .unwrap()
            .to_string()
    })
}
