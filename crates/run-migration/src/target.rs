//! What to run and where: the task definition, its container, the network and capacity, taken
//! from the inputs and, when `service` is given, from the service.

use aws_sdk_ecs as ecs;
use ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility, LaunchType,
    NetworkConfiguration, NetworkMode, TaskDefinition,
};
use swa_ecs::EcsError;
use swa_gha::ActionError;

/// The network inputs, checked before any call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInputs {
    pub subnets: Option<Vec<String>>,
    pub security_groups: Option<Vec<String>>,
    pub assign_public_ip: Option<AssignPublicIp>,
}

/// `subnet-0a1b, subnet-0c2d` or one per line; every item must start with `prefix`.
pub fn parse_ids(input: &str, text: &str, prefix: &str) -> Result<Vec<String>, ActionError> {
    let ids: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if ids.is_empty() {
        return Err(ActionError::input(input, "is empty"));
    }
    for id in &ids {
        let ok = id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !ok {
            return Err(ActionError::input(
                input,
                format!("has `{id}`, which is not an ID of the form `{prefix}0a1b2c3d`"),
            ));
        }
    }
    Ok(ids)
}

pub fn parse_assign_public_ip(text: &str) -> Result<AssignPublicIp, ActionError> {
    match text.trim().to_ascii_uppercase().as_str() {
        "ENABLED" | "TRUE" => Ok(AssignPublicIp::Enabled),
        "DISABLED" | "FALSE" => Ok(AssignPublicIp::Disabled),
        _ => Err(ActionError::input(
            "assign-public-ip",
            format!("has the value `{text}`; use ENABLED or DISABLED"),
        )),
    }
}

/// Everything RunTask needs, resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub cluster: String,
    pub definition: TaskDefinition,
    pub definition_arn: String,
    /// The task definition's tags, carried onto a revision registered with a new image.
    pub tags: Vec<ecs::types::Tag>,
    /// `family:revision`
    pub definition_name: String,
    pub container: String,
    pub launch_type: Option<LaunchType>,
    pub capacity: Vec<CapacityProviderStrategyItem>,
    pub platform_version: Option<String>,
    pub network: Option<NetworkConfiguration>,
    /// Where the settings came from, for the log.
    pub from_service: Option<String>,
}

/// What the service contributes.
struct FromService {
    task_definition: String,
    network: Option<AwsVpcConfiguration>,
    launch_type: Option<LaunchType>,
    capacity: Vec<CapacityProviderStrategyItem>,
    platform_version: Option<String>,
}

/// Looks up the service (when given) and the task definition; every problem found here is the
/// input's (exit 2), and nothing has been changed yet.
pub async fn resolve(
    client: &ecs::Client,
    cluster: &str,
    task_definition: Option<&str>,
    service: Option<&str>,
    container: Option<&str>,
    network: &NetworkInputs,
) -> Result<Target, ActionError> {
    let from_service = match service {
        Some(service) => Some(describe_service(client, cluster, service).await?),
        None => None,
    };
    let (reference, input) = match (task_definition, &from_service) {
        (Some(td), _) => (td.to_string(), "task-definition"),
        (None, Some(s)) => (s.task_definition.clone(), "service"),
        (None, None) => {
            return Err(ActionError::input(
                "task-definition",
                "is required unless `service` is given (the service's current revision is used then)",
            ));
        }
    };
    let (definition, tags) = swa_ecs::describe_task_definition(client, &reference, input).await?;
    let definition_arn = definition
        .task_definition_arn()
        .unwrap_or(&reference)
        .to_string();
    let definition_name = match (definition.family(), definition.revision()) {
        (Some(f), r) if r > 0 => format!("{f}:{r}"),
        _ => reference.clone(),
    };
    let container = swa_ecs::choose_container(&definition, container)
        .map_err(|e| EcsError::container(container, e))?;

    let mut launch_type = None;
    let mut capacity = Vec::new();
    let mut platform_version = None;
    let mut vpc = None;
    if let Some(s) = &from_service {
        launch_type = s.launch_type.clone();
        capacity = s.capacity.clone();
        platform_version = s.platform_version.clone();
        vpc = s.network.clone();
    } else if definition
        .requires_compatibilities()
        .contains(&Compatibility::Fargate)
    {
        launch_type = Some(LaunchType::Fargate);
    }

    let awsvpc = definition.network_mode() == Some(&NetworkMode::Awsvpc);
    let network = if awsvpc || network.subnets.is_some() {
        let subnets = network
            .subnets
            .clone()
            .or_else(|| vpc.as_ref().map(|v| v.subnets().to_vec()))
            .filter(|s| !s.is_empty());
        let Some(subnets) = subnets else {
            let why = match service {
                Some(s) => format!("service `{s}` has no awsvpc network configuration"),
                None => "no `service` was given to take it from".to_string(),
            };
            return Err(ActionError::input(
                "subnets",
                format!(
                    "is needed: task definition {definition_name} uses awsvpc networking and no network configuration was found ({why}); set `subnets` and `security-groups`, or `service`"
                ),
            ));
        };
        let groups = network
            .security_groups
            .clone()
            .or_else(|| vpc.as_ref().map(|v| v.security_groups().to_vec()))
            .filter(|g| !g.is_empty());
        let public = network
            .assign_public_ip
            .clone()
            .or_else(|| vpc.as_ref().and_then(|v| v.assign_public_ip().cloned()));
        let config = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets))
            .set_security_groups(groups)
            .set_assign_public_ip(public)
            .build()
            .map_err(|e| ActionError::failed(format!("network configuration: {e}")))?;
        Some(
            NetworkConfiguration::builder()
                .awsvpc_configuration(config)
                .build(),
        )
    } else {
        None
    };

    Ok(Target {
        cluster: cluster.to_string(),
        definition,
        definition_arn,
        tags,
        definition_name,
        container,
        launch_type,
        capacity,
        platform_version,
        network,
        from_service: service.map(String::from),
    })
}

async fn describe_service(
    client: &ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<FromService, ActionError> {
    let found = swa_ecs::describe_service(client, cluster, service).await?;
    let task_definition = found.task_definition().map(String::from).ok_or_else(|| {
        ActionError::input("service", format!("`{service}` has no task definition"))
    })?;
    Ok(FromService {
        task_definition,
        network: found
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .cloned(),
        launch_type: found.launch_type().cloned(),
        capacity: found.capacity_provider_strategy().to_vec(),
        platform_version: found.platform_version().map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_split_and_checked() {
        assert_eq!(
            parse_ids("subnets", "subnet-0a1, subnet-0b2\nsubnet-0c3", "subnet-").expect("ids"),
            ["subnet-0a1", "subnet-0b2", "subnet-0c3"]
        );
        let e = parse_ids("security-groups", "sg-1,default", "sg-").expect_err("an error");
        assert_eq!(e.kind(), swa_gha::ExitKind::BadInput);
        assert!(
            e.to_string()
                .starts_with("input `security-groups` has `default`"),
            "{e}"
        );
        assert!(parse_ids("subnets", " , ", "subnet-").is_err());
        assert!(parse_ids("subnets", "subnet-", "subnet-").is_err());
    }

    #[test]
    fn public_ip_takes_the_ecs_words_and_booleans() {
        assert_eq!(
            parse_assign_public_ip("enabled").ok(),
            Some(AssignPublicIp::Enabled)
        );
        assert_eq!(
            parse_assign_public_ip("false").ok(),
            Some(AssignPublicIp::Disabled)
        );
        assert!(parse_assign_public_ip("yes").is_err());
    }
}
