"""Users, roles scoped to agency subtrees, sign-in, sessions, API tokens and the permission rules."""
