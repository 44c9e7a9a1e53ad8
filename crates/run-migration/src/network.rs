//! The `subnets` and `security-groups` inputs, checked with EC2 before anything is registered or
//! run: a subnet that does not exist is bad input (exit 2) found before any change, not a
//! RunTask that ECS refuses after the migration revision was registered.

use std::collections::BTreeSet;

use aws_sdk_ec2 as ec2;
use swa_gha::{ActionError, Foreign, Gha};

use crate::target::NetworkInputs;

/// EC2 error codes that mean the ids themselves are wrong.
const NOT_FOUND: [&str; 4] = [
    "InvalidSubnetID.NotFound",
    "InvalidSubnetID.Malformed",
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
];

/// Checks the subnets and security groups given as inputs (not those taken from the service,
/// which ECS already runs with): each exists, and all are in one VPC. When EC2 cannot be asked
/// (no `ec2:Describe*` permission, or it does not answer), a warning says so and ECS's own check
/// at RunTask remains.
pub async fn check(
    gha: &Gha,
    ec2: &ec2::Client,
    inputs: &NetworkInputs,
) -> Result<(), ActionError> {
    // What was found, as (what, its VPC): the subnets first, in the order asked.
    let mut subnet_vpcs: Vec<(String, String)> = Vec::new();
    let mut group_vpcs: Vec<(String, String)> = Vec::new();
    if let Some(subnets) = &inputs.subnets {
        match ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.clone()))
            .send()
            .await
        {
            Ok(out) => {
                let found: Vec<(&str, &str)> = out
                    .subnets()
                    .iter()
                    .filter_map(|s| Some((s.subnet_id()?, s.vpc_id().unwrap_or_default())))
                    .collect();
                missing("subnets", subnets, found.iter().map(|(id, _)| *id))?;
                subnet_vpcs.extend(
                    found
                        .iter()
                        .map(|(id, vpc)| (format!("subnet {id}"), vpc.to_string())),
                );
            }
            Err(e) => unchecked(gha, "subnets", "DescribeSubnets", &e)?,
        }
    }
    if let Some(groups) = &inputs.security_groups {
        match ec2
            .describe_security_groups()
            .set_group_ids(Some(groups.clone()))
            .send()
            .await
        {
            Ok(out) => {
                let found: Vec<(&str, &str)> = out
                    .security_groups()
                    .iter()
                    .filter_map(|g| Some((g.group_id()?, g.vpc_id().unwrap_or_default())))
                    .collect();
                missing("security-groups", groups, found.iter().map(|(id, _)| *id))?;
                group_vpcs.extend(
                    found
                        .iter()
                        .map(|(id, vpc)| (format!("security group {id}"), vpc.to_string())),
                );
            }
            Err(e) => unchecked(gha, "security-groups", "DescribeSecurityGroups", &e)?,
        }
    }
    let distinct = |found: &[(String, String)]| {
        found
            .iter()
            .map(|(_, vpc)| vpc.as_str())
            .collect::<BTreeSet<&str>>()
            .len()
    };
    let all: Vec<(String, String)> = subnet_vpcs.iter().chain(&group_vpcs).cloned().collect();
    if distinct(&all) > 1 {
        // Subnets in several VPCs are the subnets' fault; else the groups are elsewhere.
        let input = if distinct(&subnet_vpcs) > 1 || group_vpcs.is_empty() {
            "subnets"
        } else {
            "security-groups"
        };
        let listed: Vec<String> = all
            .iter()
            .map(|(what, vpc)| format!("{what} in {vpc}"))
            .collect();
        return Err(ActionError::input(
            input,
            format!(
                "names resources in more than one VPC ({}); a task's subnets and security groups must share one",
                listed.join(", ")
            ),
        ));
    }
    Ok(())
}

fn missing<'a>(
    input: &str,
    asked: &[String],
    found: impl Iterator<Item = &'a str>,
) -> Result<(), ActionError> {
    let found: BTreeSet<&str> = found.collect();
    let absent: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|id| !found.contains(id))
        .collect();
    if absent.is_empty() {
        return Ok(());
    }
    Err(ActionError::input(
        input,
        format!(
            "names {}, which EC2 does not know in this account and region",
            absent.join(", ")
        ),
    ))
}

fn unchecked<E, R>(
    gha: &Gha,
    input: &str,
    call: &str,
    error: &ec2::error::SdkError<E, R>,
) -> Result<(), ActionError>
where
    E: ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = swa_aws::error_text(error);
    if swa_aws::error_code(error).is_some_and(|c| NOT_FOUND.contains(&c)) {
        return Err(ActionError::input(
            input,
            format!("was refused by EC2: {}", Foreign(&text)),
        ));
    }
    gha.warning(format!(
        "could not check `{input}` with EC2 {call} ({}); ECS checks them when the task starts",
        Foreign(&text)
    ));
    Ok(())
}
