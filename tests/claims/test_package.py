"""The public API of accountd.claims is pinned: removing a name is a decision, not an accident."""

from __future__ import annotations

import accountd.claims

PUBLIC_API = {
    # codec
    "ALGORITHM", "HEADER", "MAX_TOKEN_SIZE", "compute_jti", "decode", "decode_account", "decode_generic",
    "decode_operator", "decode_unverified", "decode_user", "encode",
    # creds
    "Creds", "decorate_jwt", "format_creds", "parse_creds",
    # errors
    "ClaimsError", "DecodeError", "Issue",
    # keys
    "InvalidKey", "KeyPair", "PublicKeyOnly", "Role", "Secret", "create", "decode_public", "is_account_key",
    "is_operator_key", "is_server_key", "is_user_key", "load_seed", "looks_like_account_key", "public_role",
    # models
    "Account", "AccountClaims", "AccountLimits", "Activation", "ActivationClaims", "Authorization", "Claims",
    "Export", "GenericClaims", "Import", "JetStreamLimits", "Operator", "OperatorClaims", "Permission",
    "Permissions", "ResponsePermission", "ScopedSigningKey", "ServiceLatency", "TimeRange", "Trace", "User",
    "UserClaims", "UserPermissionLimits", "WeightedMapping",
    # new
    "new_account", "new_operator", "new_user",
    # validate
    "Trust", "Validation", "account_user_signers", "check_account_token", "check_times", "extract_jwt",
    "is_revoked", "structure_issues", "validate_account", "validate_operator", "validate_user",
}


def test_public_api_is_exactly_the_pinned_names() -> None:
    assert set(accountd.claims.__all__) == PUBLIC_API


def test_every_public_name_is_importable() -> None:
    for name in accountd.claims.__all__:
        assert getattr(accountd.claims, name) is not None
