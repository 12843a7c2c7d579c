"""Security review (issue 7 §5): keys stored only as hashes, nothing secret in logs, auth and
organization isolation on every route, body limits before parsing, IAM least privilege."""
