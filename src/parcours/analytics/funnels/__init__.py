"""Funnels: where customers drop out (PostHog's and ClickHouse's rules), the spec and the kernel's query."""
