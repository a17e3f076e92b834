"""Review: records intake's events and reviewers' decisions in the event store; serves reviewers
and auditors."""
