"""The feedback clock (限期反馈): stages with working-day deadlines, warnings, escalation, reports."""
