"""Prepares a freshly started moto server for Legate's AWS tests, then turns signature checking on.

Usage: moto_fixture.py http://127.0.0.1:PORT  -> prints one JSON object on stdout.

Everything is created while moto still accepts unsigned requests; the final POST to
/moto-api/reset-auth makes moto verify SigV4 signatures and IAM policies on every later request,
so a wrong secret key, an unknown key id or a missing permission is refused by moto itself.
"""
import json
import sys
import urllib.request

import boto3

endpoint = sys.argv[1]
region = "us-east-1"
boot = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **boot)
kms = boto3.client("kms", **boot)
sts = boto3.client("sts", **boot)

allow_all = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:*", "secretsmanager:*", "sts:*"], "Resource": "*"}],
})
policy_arn = iam.create_policy(PolicyName="legate-allow", PolicyDocument=allow_all)["Policy"]["Arn"]

iam.create_user(UserName="legate")
iam.attach_user_policy(UserName="legate", PolicyArn=policy_arn)
user_key = iam.create_access_key(UserName="legate")["AccessKey"]

# A user that exists but may do nothing: AccessDenied comes from moto's policy check.
iam.create_user(UserName="nobody")
nobody_key = iam.create_access_key(UserName="nobody")["AccessKey"]

trust = json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "legate-external-id"}}},
        {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/issuer.legate.test"},
         "Action": "sts:AssumeRoleWithWebIdentity"},
    ],
})
role_arn = iam.create_role(RoleName="legate-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
iam.attach_role_policy(RoleName="legate-role", PolicyArn=policy_arn)

key = kms.create_key(Description="legate tests")["KeyMetadata"]
kms.create_alias(AliasName="alias/legate-test", TargetKeyId=key["KeyId"])
second = kms.create_key(Description="legate tests, rotation target")["KeyMetadata"]
disabled = kms.create_key(Description="legate tests, disabled")["KeyMetadata"]
kms.disable_key(KeyId=disabled["KeyId"])

# Temporary credentials for the IMDS and container-credential stand-ins: a real assumed-role
# session of this moto, so moto checks their session token like AWS would.
session = sts.assume_role(RoleArn=role_arn, RoleSessionName="instance", DurationSeconds=3600,
                          ExternalId="legate-external-id")["Credentials"]

req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                             headers={"Content-Type": "text/plain"})
urllib.request.urlopen(req).read()

print(json.dumps({
    "region": region,
    "accessKeyId": user_key["AccessKeyId"],
    "secretAccessKey": user_key["SecretAccessKey"],
    "deniedAccessKeyId": nobody_key["AccessKeyId"],
    "deniedSecretAccessKey": nobody_key["SecretAccessKey"],
    "roleArn": role_arn,
    "externalId": "legate-external-id",
    "keyId": key["KeyId"],
    "keyArn": key["Arn"],
    "keyAlias": "alias/legate-test",
    "secondKeyArn": second["Arn"],
    "disabledKeyArn": disabled["Arn"],
    "session": {
        "AccessKeyId": session["AccessKeyId"],
        "SecretAccessKey": session["SecretAccessKey"],
        "Token": session["SessionToken"],
        "Expiration": session["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    },
}))
