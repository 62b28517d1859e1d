"""Password complexity, GB/T 22239-2019 (信息安全技术 网络安全等级保护基本要求) §8.1.4.1 a), level 3.

The standard asks that "身份鉴别信息具有复杂度要求并定期更换" (authentication information be complex
and changed regularly). What is checked, as assessors read it and as ``GOVDX_PASSWORD_*`` sets it:

- length: at least ``min_length`` characters (default 10);
- classes: at least ``min_classes`` (default 3) of upper-case letters, lower-case letters, digits
  and other characters;
- the password does not contain the user name (in either case);
- regular change: with ``max_age_days`` above 0, a password older than that is expired and its
  user must set a new one before signing in again (default 0, off: 等保 leaves the period to the
  operator's policy).

Functions as in python-stdnum: :func:`validate` raises, :func:`is_valid` answers.
"""

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog_schema.validation import BilingualValueError


class PasswordPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVDX_PASSWORD_", extra="ignore")

    min_length: int = Field(default=10, ge=8, le=64)
    min_classes: int = Field(default=3, ge=1, le=4)
    max_age_days: int = Field(default=0, ge=0, le=3650)


@cache
def policy() -> PasswordPolicy:
    return PasswordPolicy()


def classes(password: str) -> int:
    """How many of the four character classes ``password`` uses."""
    return sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def validate(password: str, *, username: str | None = None) -> str:
    """``password`` if it meets the policy; BilingualValueError naming the first rule it breaks."""
    rules = policy()
    if len(password) < rules.min_length:
        raise BilingualValueError(
            f"密码至少 {rules.min_length} 个字符", f"a password has at least {rules.min_length} characters"
        )
    if classes(password) < rules.min_classes:
        raise BilingualValueError(
            f"密码须包含大写字母、小写字母、数字、其他字符中的至少 {rules.min_classes} 类",
            f"a password uses at least {rules.min_classes} of: upper-case, lower-case, digits, "
            "other characters",
        )
    if username and username.lower() in password.lower():
        raise BilingualValueError("密码不得包含用户名", "a password must not contain the user name")
    return password


def is_valid(password: str, *, username: str | None = None) -> bool:
    try:
        validate(password, username=username)
    except BilingualValueError:
        return False
    return True
