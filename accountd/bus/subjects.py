"""``$SYS`` subjects accountd publishes and answers (SPEC §5, §9)."""

from __future__ import annotations

__all__ = [
    "CLAIMS_DELETE",
    "CLAIMS_LIST",
    "CLAIMS_LOOKUP_ALL",
    "CLAIMS_UPDATE_ALL",
    "CLAIMS_UPDATE_REQ",
    "CLAIMS_UPDATE_REQ_ALL",
    "account_from_subject",
    "claims_update",
]

CLAIMS_UPDATE_ALL = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
CLAIMS_UPDATE_REQ = "$SYS.REQ.CLAIMS.UPDATE"
CLAIMS_UPDATE_REQ_ALL = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"
CLAIMS_LOOKUP_ALL = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
CLAIMS_LIST = "$SYS.REQ.CLAIMS.LIST"
CLAIMS_DELETE = "$SYS.REQ.CLAIMS.DELETE"
CLAIMS_PACK = "$SYS.REQ.CLAIMS.PACK"


def claims_update(account: str) -> str:
    """Where account servers announce a changed account JWT; every resolver type listens here."""
    return f"$SYS.ACCOUNT.{account}.CLAIMS.UPDATE"


def account_from_subject(subject: str) -> str:
    """The account id of ``$SYS.ACCOUNT.<id>.…`` (token 3) or ``$SYS.REQ.ACCOUNT.<id>.…`` (token 4)."""
    tokens = subject.split(".")
    if len(tokens) > 3 and tokens[1] == "REQ" and tokens[2] == "ACCOUNT":
        return tokens[3]
    if len(tokens) > 2 and tokens[1] == "ACCOUNT":
        return tokens[2]
    return ""
