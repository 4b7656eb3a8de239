"""`Authorization: Token <key>` for the personal API tokens of annotation.api_tokens."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from annotation.api_tokens import token_user


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing (keyword "Token"); the key is looked up by its hash, and its last use recorded."""

    def authenticate_credentials(self, key):
        user = token_user(key)
        if user is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        return user, None
