"""The claims diff, where the resolver's callbacks have always imported it from."""

from accountd.claims.diff import AccountDiff, diff_accounts

__all__ = ["AccountDiff", "diff_accounts"]
