"""Authorization of API calls: who the caller is to the policy engine, which policies apply, and
the decision. Shared by the IAM API, the STS actions and the /v1/authorize endpoint."""
