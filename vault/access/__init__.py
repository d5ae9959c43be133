"""Access (调阅): principals and roles, requests, approvals and grants, the tamper-evident
register (查阅登记簿) and evidence export packages (AC-1..AC-10, EV-1..EV-3)."""
