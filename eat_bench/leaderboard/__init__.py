"""The leaderboard: submissions, isolated evaluation, replay verification, scoring and the published board."""
