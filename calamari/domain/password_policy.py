"""The minimum password policy, checked when a user is created and when a password changes: long
enough, not the user name, not one of the passwords every guessing tool tries first."""

from __future__ import annotations

from calamari.domain.user import UserError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

# The most guessed passwords of 10 characters or more, and product-specific ones; compared
# case-insensitively. Short ones need no listing: the length rule refuses them already.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "12345678910", "123456789a", "1234567890a", "1q2w3e4r5t", "1qaz2wsx3edc",
    "qwertyuiop", "qwerty1234", "qwerty12345", "qwerty123456", "asdfghjkl1", "zaq12wsxcv", "zxcvbnm123",
    "password12", "password123", "password1234", "passw0rd123", "p@ssw0rd123", "password!1", "iloveyou12",
    "letmein123", "welcome123", "welcome1234", "changeme123", "changeme12", "admin12345", "administrator",
    "administrator1", "adminadmin", "rootroot12", "trustno1234", "football12", "baseball12", "monkey1234",
    "dragon1234", "sunshine12", "princess12", "superman12", "starwars12", "whatever12", "abcdefghij",
    "abc1234567", "aaaaaaaaaa", "1111111111", "0000000000", "9876543210", "calamari123", "calamari1234",
    "calamariadmin", "cephadmin123", "ceph123456", "ceph1234567", "storage123", "opensesame",
})


def check_password(password: str, username: str) -> None:
    """UserError("password", reason) unless the password meets the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError("password", f"must have at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if username and username.casefold() in folded and len(folded) - len(username) < MIN_PASSWORD_LENGTH:
        raise UserError("password", "must not be (a variant of) the user name")
    if folded in COMMON_PASSWORDS or len(set(folded)) < 4:
        raise UserError("password", "is too common or too easy to guess")
