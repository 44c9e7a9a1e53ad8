//! EC2 (Query protocol, XML answers, Version 2016-11-15), as much as the actions ask of it: the
//! sandbox's subnets and security group, so that an unknown one is refused as EC2 refuses it.

use std::collections::BTreeMap;

use crate::api::ApiError;
use crate::world::{SECURITY_GROUP, SUBNETS, VPC};
use crate::xml::escape;

pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The operations served here; every other Query action is ELBv2's.
pub fn serves(action: &str) -> bool {
    matches!(action, "DescribeSubnets" | "DescribeSecurityGroups")
}

/// `SubnetId.1`, `SubnetId.2`, ... in order.
fn ids(form: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    (1..)
        .map_while(|n| form.get(&format!("{prefix}.{n}")).cloned())
        .collect()
}

pub fn handle(
    action: &str,
    form: &BTreeMap<String, String>,
    request_id: &str,
) -> Result<String, ApiError> {
    let items = match action {
        "DescribeSubnets" => {
            let asked = ids(form, "SubnetId");
            let asked = if asked.is_empty() {
                SUBNETS.iter().map(|s| s.to_string()).collect()
            } else {
                asked
            };
            if let Some(unknown) = asked.iter().find(|id| !SUBNETS.contains(&id.as_str())) {
                return Err(ApiError::new(
                    400,
                    "InvalidSubnetID.NotFound",
                    format!("The subnet ID '{unknown}' does not exist"),
                ));
            }
            let items: String = asked
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    format!(
                        "    <item>\n      <subnetId>{}</subnetId>\n      <vpcId>{VPC}</vpcId>\n      <state>available</state>\n      <availabilityZone>us-east-1{}</availabilityZone>\n      <cidrBlock>10.0.{i}.0/24</cidrBlock>\n    </item>\n",
                        escape(id),
                        if i == 0 { "a" } else { "b" }
                    )
                })
                .collect();
            format!("  <subnetSet>\n{items}  </subnetSet>\n")
        }
        "DescribeSecurityGroups" => {
            let asked = ids(form, "GroupId");
            let asked = if asked.is_empty() {
                vec![SECURITY_GROUP.to_string()]
            } else {
                asked
            };
            if let Some(unknown) = asked.iter().find(|id| id.as_str() != SECURITY_GROUP) {
                return Err(ApiError::new(
                    400,
                    "InvalidGroup.NotFound",
                    format!("The security group '{unknown}' does not exist"),
                ));
            }
            format!(
                "  <securityGroupInfo>\n    <item>\n      <groupId>{SECURITY_GROUP}</groupId>\n      <groupName>startupwebapp-service</groupName>\n      <vpcId>{VPC}</vpcId>\n    </item>\n  </securityGroupInfo>\n"
            )
        }
        other => return Err(ApiError::unknown_operation(other)),
    };
    Ok(format!(
        "<{action}Response xmlns=\"{XMLNS}\">\n  <requestId>{request_id}</requestId>\n{items}</{action}Response>\n"
    ))
}

/// EC2's error body (not ELBv2's `ErrorResponse`).
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<Response>\n  <Errors>\n    <Error>\n      <Code>{code}</Code>\n      <Message>{}</Message>\n    </Error>\n  </Errors>\n  <RequestID>{request_id}</RequestID>\n</Response>\n",
        escape(message)
    )
}
